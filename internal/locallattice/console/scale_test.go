package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console/consoletest"
)

// TestThousandServices checks that the service list pages and filters 1,000 services correctly
// (bench/console measures how fast).
func TestThousandServices(t *testing.T) {
	st := consoletest.Populate(t, 1000)
	h := console.Handler(st, nil)
	get := func(path string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", console.Path+path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
	var page struct {
		Total, Page, Pages int
		Items              []struct{ ID, Name string }
	}
	get("api/services?page=20", &page)
	if page.Total != 1000 || page.Pages != 20 || page.Page != 20 || len(page.Items) != console.PageSize || page.Items[49].Name != "svc-0999" {
		t.Errorf("last page: %+v", page)
	}
	get("api/services?page=99", &page)
	if page.Page != 20 {
		t.Errorf("page 99 of 20 answered page %d", page.Page)
	}
	get("api/services?q=SVC-012", &page)
	if page.Total != 10 || page.Items[0].Name != "svc-0120" {
		t.Errorf("filter svc-012: %+v", page)
	}
	var detail struct {
		Name      string
		Listeners []struct {
			Rules []struct{ Forward []struct{ Percent int } }
		}
	}
	get(fmt.Sprintf("api/services/%s", page.Items[0].ID), &detail)
	if detail.Name != "svc-0120" || len(detail.Listeners) != 1 || len(detail.Listeners[0].Rules) != 6 || detail.Listeners[0].Rules[5].Forward[0].Percent != 50 {
		t.Errorf("detail: %+v", detail)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", console.Path+"api/services/svc-nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown service: %d", rec.Code)
	}
}
