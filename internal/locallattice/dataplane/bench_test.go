package dataplane

import (
	"io"

	"github.com/go-logr/logr"
	"net/http"
	"testing"
)

// BenchmarkForward measures one keep-alive HTTP/1.1 request through a 50/50 forward, against
// the same request sent straight to a backend (run both: the ratio is what matters).
func BenchmarkForward(b *testing.B) {
	b1 := startBackend(b, "b1", "127.0.53.1:8090")
	startBackend(b, "b2", "127.0.53.2:8090")
	f := newFixture()
	svc := f.service("bench", "")
	f.listener(svc, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", "127.0.53.1:8090"), 50,
		f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", "127.0.53.2:8090"), 50))
	src := newFakeSource()
	src.publish(f.build())
	dp, err := New(src, Options{DNSAddr: "127.0.53.10:0", DataPlaneAddr: "127.0.53.10", ListenerPortOffset: testPortOffset, DataDir: b.TempDir()}, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	if err := dp.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer dp.Close()
	for _, tc := range []struct{ name, url string }{
		{"direct", "http://" + b1.addr + "/"},
		{"dataplane", "http://" + f.svc(svc).DNSEntry.DomainName + "/"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := clientFor(dp, nil)
			if tc.name == "direct" {
				c = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(tc.url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
