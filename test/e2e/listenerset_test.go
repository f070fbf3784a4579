package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestListenerSetCarriesTraffic applies examples/listenerset next to the hotel's parking app: the
// ListenerSet is Accepted and Programmed on the shared Gateway, which counts it, and a real HTTP
// request to the ListenerSet listener's port reaches the parking pod through the data plane.
// Deleting everything leaves nothing in Lattice.
func TestListenerSetCarriesTraffic(t *testing.T) {
	e := startEnv(t, "127.0.79.1")
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.cluster.Client
	var docs []string
	for _, f := range []string{filepath.Join(hotelDir(t), "gatewayclass.yaml"), filepath.Join(hotelDir(t), "parking.yaml")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	examples, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "examples", "listenerset", "*.yaml"))
	if err != nil || len(examples) != 3 {
		t.Fatalf("examples/listenerset: %v (%d files, want 3)", err, len(examples))
	}
	for _, f := range examples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	e.apply(t, strings.Join(docs, "\n---\n"))

	route := harness.RouteProgrammed(t, k, "default", "parking-ls", "parking-listeners", 2*time.Minute)
	// A route whose only parent is a ListenerSet is ours: its deletion waits for its Lattice service.
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return k.Get(ctx, client.ObjectKeyFromObject(route), route) == nil && slices.Contains(route.Finalizers, kubernetes.FinalizerHTTPRoute)
	}, func() string { return fmt.Sprintf("route finalizers %v", route.Finalizers) }))
	ls := &gwv1.ListenerSet{}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		if err := k.Get(ctx, client.ObjectKey{Namespace: "default", Name: "parking-listeners"}, ls); err != nil {
			return false
		}
		return harness.IsTrue(ls.Status.Conditions, "Accepted", ls.Generation) && harness.IsTrue(ls.Status.Conditions, "Programmed", ls.Generation) &&
			len(ls.Status.Listeners) == 1 && ls.Status.Listeners[0].AttachedRoutes == 1
	}, func() string {
		return fmt.Sprintf("ListenerSet: %s listeners %+v", harness.Describe(ls.Status.Conditions), ls.Status.Listeners)
	}))
	if c := meta.FindStatusCondition(ls.Status.Listeners[0].Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ListenerSet listener Programmed = %+v", c)
	}
	gw := &gwv1.Gateway{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: "default", Name: "shared"}, gw); err != nil {
		t.Fatal(err)
	}
	if n := gw.Status.AttachedListenerSets; n == nil || *n != 1 {
		t.Errorf("Gateway shared attachedListenerSets = %v, want 1", n)
	}

	ips, err := cluster.ResolveDNS(route.Annotations[status.AnnotationDomainName], e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: cluster.PodDialer(t), DisableKeepAlives: true}}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(8080+listenerPortOffset) + "/"
	harness.Eventually(t, time.Minute, func() error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Host = "parking.example.com"
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "parking handler pod") {
			return fmt.Errorf("status %d body %q, want 200 from the parking pod", resp.StatusCode, body)
		}
		return nil
	})

	r := &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "parking-ls")}
	set := &gwv1.ListenerSet{ObjectMeta: objMeta("default", "parking-listeners")}
	shared := &gwv1.Gateway{ObjectMeta: objMeta("default", "shared")}
	e.deleteAll(t, r, set, shared)
	e.waitGone(t, r, set, shared)
	e.latticeEmpty(t)
}
