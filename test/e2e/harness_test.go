// Package e2e runs lattice-gateway's Kubernetes controller in-process against a real one-machine
// cluster (test/cluster: kube-apiserver, etcd, kube-controller-manager and a kubelet simulator
// running pods on 127.244.a.b) and Local Lattice (API + data plane) in-process, and checks the
// results through the Kubernetes API, the Lattice API's counters and real traffic.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

const (
	accountID   = "123456789012"
	clusterName = "e2e"
	vpcID       = "vpc-0e2e0000000000001"
	region      = "us-west-2"
	// listenerPortOffset lets the data plane serve Lattice port 80 without privileges.
	listenerPortOffset = 20000
)

type env struct {
	cluster *cluster.Cluster
	// kubeconfig authenticates as the controller's ServiceAccount.
	kubeconfig string
	lattice    *api.Server
	dp         *dataplane.DataPlane
	// client is an SDK client of Local Lattice for changing things behind the controller's back.
	client *vpclattice.Client
	// owner is the controllers' identity: the cluster name and VPC of this cluster.
	owner model.Owner
}

// startEnv starts a cluster and Local Lattice for one test; everything stops when it ends.
func startEnv(t *testing.T, dataPlaneIP string) *env { return startEnvWith(t, dataPlaneIP, "") }

// startEnvWith is startEnv with a data plane that also accepts the IAM principals of
// principalsFile (dataplane.PrincipalsFile format) when it is not empty, and Local Lattice's
// options changed by tune.
func startEnvWith(t *testing.T, dataPlaneIP, principalsFile string, tune ...func(*locallattice.Options)) *env {
	t.Helper()
	c := cluster.Start(t, cluster.Options{})
	o := locallattice.Options{
		API: api.Options{Region: region, AccountID: accountID, DrainingDelay: 200 * time.Millisecond},
		DataPlane: &dataplane.Options{DataPlaneAddr: dataPlaneIP, ListenerPortOffset: listenerPortOffset,
			DialMap: cluster.PodDialMap(), HealthCheckInterval: 100 * time.Millisecond, PrincipalsFile: principalsFile},
	}
	for _, f := range tune {
		f(&o)
	}
	ll := locallatticetest.Start(t, o)
	e := &env{cluster: c, lattice: ll.API, dp: ll.DataPlane, client: ll.Client,
		owner: model.Owner{AccountID: accountID, ClusterName: clusterName, VPCID: vpcID}}
	e.kubeconfig = e.controllerKubeconfig(t)
	return e
}

// startController runs a controller replica as `lattice-gateway controller` would, against the
// cluster as the controller's ServiceAccount and against Local Lattice. The identity and endpoint
// in o.Lattice are the environment's; its other settings are kept.
func (e *env) startController(t *testing.T, o harness.ControllerOptions) *harness.Controller {
	t.Helper()
	o.Lattice.Owner, o.Lattice.Region, o.Lattice.LatticeEndpoint = e.owner, region, e.lattice.URL()
	o.Kubeconfig, o.LeaderElectionNamespace = e.kubeconfig, controllerNamespace
	return harness.StartController(t, o)
}

// policyClient is a client of the cluster with the controller's scheme, which knows the policy
// kinds too (the cluster's own client knows Gateway API only).
func (e *env) policyClient(t *testing.T) client.Client {
	t.Helper()
	scheme, err := kubernetes.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	k, err := client.New(e.cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// apply server-side applies manifests to the cluster.
func (e *env) apply(t *testing.T, manifests string) {
	t.Helper()
	if err := e.cluster.Apply(context.Background(), manifests); err != nil {
		t.Fatal(err)
	}
}

// hotelDir is the seed walkthrough's manifests, used unchanged.
func hotelDir(t *testing.T) string {
	dir := filepath.Join(testenv.RepoRoot(), "examples", "hotel")
	if _, err := os.Stat(filepath.Join(dir, "inventory-route.yaml")); err != nil {
		t.Fatalf("examples/hotel is missing: %v", err)
	}
	return dir
}

// latticeInventory lists everything in Local Lattice, for leak and duplicate checks.
func (e *env) latticeInventory() map[string][]string {
	s := e.lattice.Store().Snapshot()
	inv := map[string][]string{}
	add := func(kind, name string) { inv[kind] = append(inv[kind], name) }
	for _, x := range s.ServiceNetworks {
		add("ServiceNetwork", x.Name)
	}
	for _, x := range s.Services {
		add("Service", x.Name)
	}
	for _, x := range s.Listeners {
		add("Listener", x.ServiceID+"/"+x.Name)
	}
	for _, x := range s.Rules {
		add("Rule", x.ListenerID+"/"+x.Name)
	}
	for _, x := range s.TargetGroups {
		add("TargetGroup", x.Name)
	}
	for _, x := range s.ServiceAssociations {
		add("ServiceAssociation", x.ID)
	}
	for _, x := range s.VPCAssociations {
		add("VPCAssociation", x.ID)
	}
	for k := range inv {
		sort.Strings(inv[k])
	}
	return inv
}

func duplicates(inv map[string][]string) []string {
	var out []string
	for kind, names := range inv {
		if kind == "ServiceAssociation" || kind == "VPCAssociation" {
			continue
		}
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				out = append(out, kind+" "+names[i])
			}
		}
	}
	return out
}

func total(inv map[string][]string) int {
	n := 0
	for _, v := range inv {
		n += len(v)
	}
	return n
}

// targetsOf returns the registered (non-draining) targets of the named target groups' prefix.
func targetsOf(s *store.Snapshot, tgPrefix string) []string {
	var out []string
	for _, tg := range s.TargetGroups {
		if !strings.HasPrefix(tg.Name, tgPrefix) {
			continue
		}
		for _, tt := range tg.Targets {
			if tt.Status != "DRAINING" {
				out = append(out, fmt.Sprintf("%s:%d", tt.ID, tt.Port))
			}
		}
	}
	sort.Strings(out)
	return out
}

// hasEvent reports whether an events.k8s.io Event with reason is about the named object.
func (e *env) hasEvent(t *testing.T, ns, name, reason string) bool {
	t.Helper()
	var found bool
	harness.Eventually(t, 10*time.Second, harness.That(func() bool {
		list := &eventsv1.EventList{}
		if err := e.cluster.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return false
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == name && ev.Reason == reason {
				found = true
			}
		}
		return found
	}, func() string { return fmt.Sprintf("no %s event for %s/%s", reason, ns, name) }))
	return found
}
