package demo

import (
	"context"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/examples/hotel"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// manifests are the hotel manifests with the pods moved to 127.0.21.x, so this test never
// competes for addresses with a `demo` run by test/standalone at the same time.
func manifests(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(hotel.Manifests, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(hotel.Manifests, path)
		out[path] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(b), "127.0.20.", "127.0.21.")), Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRun plays the walkthrough, in one cluster and across two, against Local Lattice's API and
// data plane in-process, with the data plane allowed to dial loopback only.
func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		owners []model.Owner
		want   []string
	}{
		{"one cluster", []model.Owner{{AccountID: "123456789012", ClusterName: "standalone", VPCID: "vpc-0123456789abcdef0"}},
			[]string{"Split over 20 requests: inventory-ver1 10 (50%)  inventory-ver2 10 (50%)"}},
		{"two clusters", []model.Owner{{AccountID: "123456789012", ClusterName: "a", VPCID: "vpc-0aaaaaaaaaaaaaaaa"}, {AccountID: "123456789012", ClusterName: "b", VPCID: "vpc-0bbbbbbbbbbbbbbbb"}},
			[]string{"Split over 20 requests: inventory-ver1 10 (50%)  inventory-ver2 10 (50%)", "Served by cluster: cluster-a 10 (50%)  cluster-b 10 (50%)",
				"[cluster-b] CreateTargetGroup target group k8s-default-inventory-ver2-8090-http1-", "Inventory-ver2 handler pod   <- cluster-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offset := freePort(t) - 80
			ll := locallatticetest.Start(t, locallattice.Options{DataPlane: &dataplane.Options{ListenerPortOffset: offset}})
			dp := ll.DataPlane
			awsCfg := aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
			client, err := latticeclient.New(awsCfg, ll.URL(), nil, latticeclient.Options{RateLimits: &latticeclient.Limits{}})
			if err != nil {
				t.Fatal(err)
			}
			tagging, err := latticeclient.NewTagging(awsCfg, ll.URL(), nil, latticeclient.Options{RateLimits: &latticeclient.Limits{}})
			if err != nil {
				t.Fatal(err)
			}
			env := Env{
				DNSAddr:      dp.DNSAddr(),
				ListenerAddr: func(p int32) string { return "127.0.0.1:" + strconv.Itoa(int(p)+offset) },
				Serving:      func(p int32) bool { _, ok := dp.ListenerAddr(p); return ok },
			}
			for _, owner := range tt.owners {
				cfg := translate.Config{Owner: owner}
				d := deploy.New(client, deploy.Config{Owner: owner, Tagging: tagging, ImportTTL: time.Second}, testr.New(t))
				env.Clusters = append(env.Clusters, Cluster{Deployer: d, Translate: cfg})
			}
			var out strings.Builder
			if err := Run(context.Background(), env, Options{Requests: 20, Manifests: manifests(t), Out: &out, Log: testr.New(t)}); err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestStartApps(t *testing.T) {
	apps := startHotelApps(t)
	want := map[string]int{"parking": 1, "review": 1, "inventory-ver1": 2, "inventory-ver2": 2}
	for svc, n := range want {
		if got := len(apps.PodsOf(svc)); got != n {
			t.Errorf("%s: %d pods, want %d", svc, got, n)
		}
	}
	ver2 := apps.PodsOf("inventory-ver2")[0]
	split, err := Request(context.Background(), 1, "http://"+ver2.Addr.String()+"/", ver2.Addr, netip.MustParseAddr("127.0.21.1"), apps, func(line string) {
		if want := "Requesting to Pod(" + ver2.Name + "): Inventory-ver2 handler pod"; line != want {
			t.Errorf("answer %q, want %q", line, want)
		}
	})
	if err != nil || split.Services["inventory-ver2"] != 1 {
		t.Errorf("split %+v, %v", split, err)
	}
}

func TestCheckSplit(t *testing.T) {
	tests := []struct {
		name  string
		split Split
		fails bool
	}{
		{"even", Split{Total: 30, Services: map[string]int{"a": 15, "b": 15}}, false},
		{"uneven but both served", Split{Total: 30, Services: map[string]int{"a": 29, "b": 1}}, false},
		{"a backend starved", Split{Total: 30, Services: map[string]int{"a": 30}}, true},
		{"too few requests to tell", Split{Total: 3, Services: map[string]int{"a": 3}}, false},
		{"failed requests", Split{Total: 30, Failed: 1, Services: map[string]int{"a": 15, "b": 14}}, true},
	}
	for _, tt := range tests {
		if err := checkSplit(&tt.split, []string{"a", "b"}); (err != nil) != tt.fails {
			t.Errorf("%s: err %v, want failure %v", tt.name, err, tt.fails)
		}
	}
}

func startHotelApps(t *testing.T) *Apps {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, manifests(t)); err != nil {
		t.Fatal(err)
	}
	snap, err := file.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var objs []file.Object
	for _, m := range snap.Manifests {
		objs = append(objs, m.Object)
	}
	apps, err := StartApps(objs, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(apps.Close)
	return apps
}
