package locallatticetest_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

// TestStart starts everything Start can start and uses each part once.
func TestStart(t *testing.T) {
	ll := locallatticetest.Start(t, locallattice.Options{API: api.Options{AdminAddr: "127.0.0.1:0"},
		DataPlane: &dataplane.Options{DataPlaneAddr: "127.0.54.1"}})
	svc, err := ll.Client.CreateService(t.Context(), &vpclattice.CreateServiceInput{Name: aws.String("start")})
	if err != nil {
		t.Fatal(err)
	}
	if got := ll.Store().Snapshot().Services; len(got) != 1 || got[0].ID != aws.ToString(svc.Id) {
		t.Errorf("store has %+v, want the created service", got)
	}
	if ll.DataPlane == nil || ll.DataPlane.DNSAddr() == "" {
		t.Fatal("data plane not started")
	}
	resp, err := http.Get("http://" + ll.API.AdminAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin /healthz: %s", resp.Status)
	}
}

// TestStartFails: what cannot start is reported, and nothing is left listening.
func TestStartFails(t *testing.T) {
	if _, err := locallattice.Start(t.Context(), locallattice.Options{API: api.Options{Region: "nowhere", AccountID: "123456789012"}}); err == nil {
		t.Error("started with an invalid region")
	}
	ll := locallatticetest.Start(t, locallattice.Options{})
	_, err := locallattice.Start(t.Context(), locallattice.Options{API: api.Options{Region: "us-west-2", AccountID: "123456789012",
		APIAddr: ll.API.Addr()}})
	if err == nil {
		t.Error("started on an address in use")
	}
}
