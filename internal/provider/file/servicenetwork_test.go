package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// TestServiceNetworkFile: a ServiceNetwork manifest in standalone mode creates its network in Local
// Lattice and gets a status file saying so; removing the manifest deletes the network (ours) and
// the status file.
func TestServiceNetworkFile(t *testing.T) {
	srv, d := localLattice(t)
	dir, statusDir := t.TempDir(), t.TempDir()
	r := New(Config{Dir: dir, StatusDir: statusDir, Translate: testTranslate, Deployer: d, Log: testr.New(t), Now: time.Now})
	manifest := filepath.Join(dir, "sn.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: application-networking.k8s.aws/v1alpha1\nkind: ServiceNetwork\nmetadata:\n  name: team-sn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	networks := func() []string {
		var names []string
		for _, sn := range srv.Store().Snapshot().ServiceNetworks {
			names = append(names, sn.Name)
		}
		return names
	}
	rep := r.Reconcile(context.Background())
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if row := rep.Row("ServiceNetwork", "", "team-sn"); row == nil || !row.Ready {
		t.Errorf("report row %+v, want a ready ServiceNetwork team-sn", row)
	}
	b, err := os.ReadFile(filepath.Join(statusDir, "servicenetwork.team-sn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sn v1alpha1.ServiceNetwork
	if err := yaml.UnmarshalStrict(b, &sn); err != nil {
		t.Fatal(err)
	}
	var programmed string
	for _, c := range sn.Status.Conditions {
		if c.Type == status.ConditionProgrammed {
			programmed = string(c.Status) + " " + c.Message
		}
	}
	if !strings.HasPrefix(programmed, "True ") || sn.Status.ServiceNetworkARN == "" {
		t.Errorf("status: Programmed %q, ARN %q", programmed, sn.Status.ServiceNetworkARN)
	}
	if got := networks(); len(got) != 1 || got[0] != "team-sn" {
		t.Fatalf("Local Lattice networks %v, want [team-sn]", got)
	}

	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	if rep := r.Reconcile(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got := networks(); len(got) != 0 {
		t.Errorf("Local Lattice networks %v after the manifest was removed", got)
	}
	if _, err := os.Stat(filepath.Join(statusDir, "servicenetwork.team-sn.yaml")); !os.IsNotExist(err) {
		t.Errorf("status file still there: %v", err)
	}
}
