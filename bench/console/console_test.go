// Package console benchmarks the Local Lattice console's JSON endpoints with 1,000 services
// (issue 19: a page must load in well under a second). Run:
//
//	go test -run '^$' -bench . ./bench/console
package console

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console/consoletest"
)

func BenchmarkConsole1000Services(b *testing.B) {
	st := consoletest.Populate(b, 1000)
	h := console.Handler(st, nil)
	for _, bc := range []struct{ name, path string }{
		{"page", "api/services?page=1"},
		{"last-page", "api/services?page=20"},
		{"filter", "api/services?q=svc-09"},
		{"service", "api/services/svc-00000000000000500"},
		{"networks", "api/networks"},
		{"page-html", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", console.Path+bc.path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", bc.path, rec.Code)
				}
			}
		})
	}
}
