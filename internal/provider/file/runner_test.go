package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

const classAndGateway = gateway + `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: amazon-vpc-lattice
spec:
  controllerName: application-networking.k8s.aws/gateway-api-controller
---
apiVersion: v1
kind: Service
metadata:
  name: inventory
spec:
  ports:
  - port: 8090
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: inventory-1
  labels:
    kubernetes.io/service-name: inventory
addressType: IPv4
ports:
- port: 8090
endpoints:
- addresses: ["127.0.40.1"]
`

func route(section string, weight int) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: inventory
spec:
  parentRefs:
  - name: my-hotel
    sectionName: ` + section + `
  rules:
  - backendRefs:
    - name: inventory
      port: 8090
      weight: ` + itoa(weight) + "\n"
}

// localLattice starts Local Lattice's API in-process and returns a Deployer for it.
func localLattice(t *testing.T) (*api.Server, *deploy.Deployer) {
	t.Helper()
	srv := locallatticetest.Start(t, locallattice.Options{}).API
	cfg := aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	client, err := latticeclient.New(cfg, srv.URL(), nil, latticeclient.Options{RateLimits: &latticeclient.Limits{}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, deploy.New(client, deploy.Config{Owner: model.Owner{AccountID: "123456789012", ClusterName: "test", VPCID: "vpc-0123456789abcdef0"}}, testr.New(t))
}

var testTranslate = translate.Config{Owner: model.Owner{AccountID: "123456789012", ClusterName: "test", VPCID: "vpc-0123456789abcdef0"}}

func readRoute(t *testing.T, statusDir string) *gwv1.HTTPRoute {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(statusDir, "httproute.default.inventory.yaml"))
	if err != nil {
		return nil
	}
	var r gwv1.HTTPRoute
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func condition(r *gwv1.HTTPRoute, typ string) *metav1.Condition {
	for _, p := range r.Status.Parents {
		for i := range p.Conditions {
			if p.Conditions[i].Type == typ {
				return &p.Conditions[i]
			}
		}
	}
	return nil
}

// TestReconcile applies a sequence of folder states to a real Local Lattice and checks the
// report, the status files and the Lattice API calls of each.
func TestReconcile(t *testing.T) {
	srv, d := localLattice(t)
	dir, statusDir := t.TempDir(), t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := New(Config{Dir: dir, StatusDir: statusDir, Translate: testTranslate, Deployer: d, Log: testr.New(t),
		Now: func() time.Time { return now }, ListenerAddr: func(p int32) string { return "127.0.0.1:" + itoa(int(p)+8000) }})
	var firstTransition metav1.Time

	steps := []struct {
		name  string
		files map[string]string // content by name; "" removes the file
		// row is the inventory route's status in the report ("" = no row).
		row        string
		problems   int
		generation int64
		mutating   bool
		check      func(t *testing.T, rep *Report)
	}{{
		name: "create", files: map[string]string{"base.yaml": classAndGateway, "route.yaml": route("http", 1)},
		row: "Programmed", generation: 1, mutating: true,
		check: func(t *testing.T, rep *Report) {
			row := rep.Row("HTTPRoute", "default", "inventory")
			if row.DNSName == "" || row.Addresses[0] != "http://127.0.0.1:8080" || row.Path != "/" {
				t.Errorf("row %+v", row)
			}
			if gw := rep.Row("Gateway", "default", "my-hotel"); gw == nil || !gw.Ready {
				t.Errorf("gateway row %+v", gw)
			}
			rt := readRoute(t, statusDir)
			if rt.Annotations[status.AnnotationDomainName] != row.DNSName {
				t.Errorf("annotations %v", rt.Annotations)
			}
			firstTransition = condition(rt, "Programmed").LastTransitionTime
		},
	}, {
		name: "unchanged: no calls, same generation and transition times", row: "Programmed", generation: 1,
		check: func(t *testing.T, _ *Report) {
			if got := condition(readRoute(t, statusDir), "Programmed").LastTransitionTime; !got.Equal(&firstTransition) {
				t.Errorf("transition time moved from %v to %v", firstTransition, got)
			}
		},
	}, {
		name: "edited spec: new generation", files: map[string]string{"route.yaml": route("http", 2)},
		row: "Programmed", generation: 2, mutating: true,
	}, {
		name: "half-typed edit: reported, last good version kept", files: map[string]string{"route.yaml": "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: [\n"},
		row: "Programmed", problems: 1, generation: 2,
	}, {
		name: "rejected route: condition says why, service deleted", files: map[string]string{"route.yaml": route("nope", 2)},
		row: "Accepted=False NoMatchingParent", generation: 3, mutating: true,
		check: func(t *testing.T, rep *Report) {
			if rep.Row("HTTPRoute", "default", "inventory").Message == "" {
				t.Error("no message for the rejection")
			}
		},
	}, {
		name: "removed file: object gone, status file removed", files: map[string]string{"route.yaml": ""},
		check: func(t *testing.T, _ *Report) {
			if readRoute(t, statusDir) != nil {
				t.Error("status file of the deleted route is still there")
			}
		},
	}}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			for name, content := range s.files {
				if content == "" {
					if err := os.Remove(filepath.Join(dir, name)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(time.Minute)
			srv.ResetCounts()
			rep := r.Reconcile(context.Background())
			if rep.Err != nil {
				t.Fatal(rep.Err)
			}
			if len(rep.Problems) != s.problems {
				t.Errorf("problems %v, want %d", rep.Problems, s.problems)
			}
			row := rep.Row("HTTPRoute", "default", "inventory")
			switch {
			case s.row == "" && row != nil:
				t.Errorf("unexpected row %+v", row)
			case s.row != "" && (row == nil || row.Status != s.row):
				t.Fatalf("row %+v, want status %q", row, s.row)
			}
			if m := srv.Counts().Mutating(); (m > 0) != s.mutating {
				t.Errorf("%d mutating calls: %v", m, srv.Counts())
			}
			if s.generation > 0 {
				rt := readRoute(t, statusDir)
				if rt.Generation != s.generation || condition(rt, "Accepted").ObservedGeneration != s.generation {
					t.Errorf("generation %d, observed %d, want %d", rt.Generation, condition(rt, "Accepted").ObservedGeneration, s.generation)
				}
			}
			if s.check != nil {
				s.check(t, rep)
			}
		})
	}
}

// TestRunWatchesFolder: Run applies the folder, re-applies after a change, and returns nil when
// its context ends.
func TestRunWatchesFolder(t *testing.T) {
	_, d := localLattice(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(classAndGateway), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := make(chan *Report, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New(Config{Dir: dir, Translate: testTranslate, Deployer: d, Log: testr.New(t), Debounce: 20 * time.Millisecond,
		OnReport: func(rep *Report) { reports <- rep }})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	wait := func(what string, ok func(*Report) bool) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case rep := <-reports:
				if ok(rep) {
					return
				}
			case <-timeout:
				t.Fatalf("no report with %s", what)
			}
		}
	}
	wait("the gateway", func(rep *Report) bool { return rep.Row("Gateway", "default", "my-hotel") != nil })
	sub := filepath.Join(dir, "routes")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the watcher add the new folder
	if err := os.WriteFile(filepath.Join(sub, "route.yaml"), []byte(route("http", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("the route in a new sub-folder", func(rep *Report) bool { return rep.Ready() && rep.Row("HTTPRoute", "default", "inventory") != nil })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestCurl(t *testing.T) {
	tests := []struct{ dns, addr, path, want string }{
		{"a.on.aws", "http://127.0.0.1:8080", "/x", "curl --resolve a.on.aws:8080:127.0.0.1 http://a.on.aws:8080/x"},
		{"a.on.aws", "http://a.on.aws:80", "/", "curl http://a.on.aws:80/"},
		{"a.on.aws", "tls://127.0.0.1:8443", "/", "curl --resolve a.on.aws:8443:127.0.0.1 https://a.on.aws:8443/"},
		{"", "http://127.77.0.1:8080", "/", "curl http://127.77.0.1:8080/"},
	}
	for _, tt := range tests {
		if got := Curl(tt.dns, tt.addr, tt.path); got != tt.want {
			t.Errorf("Curl(%s, %s) = %q, want %q", tt.dns, tt.addr, got, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	WriteTable(&b, &Report{
		Rows: []Row{
			{Kind: "Gateway", Namespace: "default", Name: "my-hotel", Ready: true, Status: "Programmed"},
			{Kind: "HTTPRoute", Namespace: "default", Name: "rates", Status: "Accepted=False NotAllowedByListeners", Message: "not allowed"},
		},
		Problems: []Problem{{Source{"a.yaml", 3}, os.ErrInvalid}},
	})
	for _, want := range []string{"KIND", "Gateway    default/my-hotel  Programmed", "HTTPRoute default/rates: not allowed", "skipped a.yaml:3: invalid argument"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatusDirInsideFolder: the status files written into the watched folder are not read back
// as manifests (they would be duplicates of the objects).
func TestStatusDirInsideFolder(t *testing.T) {
	_, d := localLattice(t)
	dir := t.TempDir()
	for name, content := range map[string]string{"base.yaml": classAndGateway, "route.yaml": route("http", 1)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := New(Config{Dir: dir, StatusDir: filepath.Join(dir, "status"), Translate: testTranslate, Deployer: d, Log: testr.New(t)})
	for i := range 2 {
		rep := r.Reconcile(context.Background())
		if rep.Err != nil || len(rep.Problems) > 0 || !rep.Ready() {
			t.Fatalf("pass %d: err %v, problems %v, rows %+v", i, rep.Err, rep.Problems, rep.Rows)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "status", "httproute.default.inventory.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestListenerSetStatusFile: a route attached through a ListenerSet is programmed, and the
// ListenerSet gets its status file with Accepted and Programmed and the route counted.
func TestListenerSetStatusFile(t *testing.T) {
	_, d := localLattice(t)
	dir, statusDir := t.TempDir(), t.TempDir()
	r := New(Config{Dir: dir, StatusDir: statusDir, Translate: testTranslate, Deployer: d, Log: testr.New(t),
		ListenerAddr: func(p int32) string { return "127.0.0.1:" + itoa(int(p)+8000) }})
	files := map[string]string{
		"base.yaml": strings.Replace(classAndGateway, "  listeners:\n", "  allowedListeners:\n    namespaces:\n      from: Same\n  listeners:\n", 1),
		"set.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata:
  name: extra
spec:
  parentRef:
    name: my-hotel
  listeners:
  - name: extra
    port: 8081
    protocol: HTTP
`,
		"route.yaml": strings.Replace(route("extra", 1), "  - name: my-hotel\n", "  - name: extra\n    kind: ListenerSet\n", 1),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := r.Reconcile(context.Background())
	if rep.Err != nil || len(rep.Problems) > 0 {
		t.Fatalf("reconcile: %v %v", rep.Err, rep.Problems)
	}
	if row := rep.Row("HTTPRoute", "default", "inventory"); row == nil || row.Status != "Programmed" {
		t.Fatalf("route row %+v, want Programmed", row)
	}
	var ls gwv1.ListenerSet
	readStatusFile(t, statusDir, "listenerset.default.extra.yaml", &ls)
	for _, typ := range []string{"Accepted", "Programmed"} {
		if c := meta.FindStatusCondition(ls.Status.Conditions, typ); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("ListenerSet %s = %+v, want True", typ, c)
		}
	}
	if len(ls.Status.Listeners) != 1 || ls.Status.Listeners[0].AttachedRoutes != 1 {
		t.Errorf("ListenerSet listeners %+v, want one with 1 attached route", ls.Status.Listeners)
	}
}

// readStatusFile decodes the status file name in statusDir into obj.
func readStatusFile(t *testing.T, statusDir, name string, obj any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(statusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, obj); err != nil {
		t.Fatal(err)
	}
}
