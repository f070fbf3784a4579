package console_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/chromedp/chromedp"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

var updateDocs = flag.Bool("update-docs", false, "write the README's console screenshot to docs/images/console.png")

// hotel is a Local Lattice configured like the seed walkthrough: a service network with a VPC,
// the inventory service splitting 50/50 between inventory-ver1 and inventory-ver2, and the rates
// service routing /parking and /review by path.
type hotel struct {
	srv       *api.Server
	dp        *dataplane.DataPlane
	console   string // URL of the console
	inventory string // service ID
	dnsName   string // inventory's DNS name
	backends  map[string]*http.Server
}

// The test's own loopback addresses: backends on .1-.4, the data plane on .10.
const net79 = "127.0.79."

func startHotel(t *testing.T) *hotel {
	t.Helper()
	o := api.DefaultOptions()
	o.APIAddr, o.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	ll := locallatticetest.Start(t, locallattice.Options{API: o, DataPlane: &dataplane.Options{DataPlaneAddr: net79 + "10",
		ListenerPortOffset: 21000, HealthCheckInterval: 100 * time.Millisecond}})
	srv, dp := ll.API, ll.DataPlane
	h := &hotel{srv: srv, dp: dp, console: ll.ConsoleURL(), backends: map[string]*http.Server{}}

	ctx := t.Context()
	c := ll.Client
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sn, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel")})
	must(sn, err)
	must(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}))
	tgs := map[string]string{}
	for i, app := range []string{"inventory-ver1", "inventory-ver2", "parking", "review"} {
		addr := net79 + strconv.Itoa(i+1) + ":8090"
		h.backends[app] = startBackend(t, app, addr)
		tg, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(app), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}})
		must(tg, err)
		tgs[app] = *tg.Id
		must(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(net79 + strconv.Itoa(i+1)), Port: aws.Int32(8090)}}}))
	}
	forward := func(weights map[string]int32) types.RuleAction {
		var wt []types.WeightedTargetGroup
		for _, app := range []string{"inventory-ver1", "inventory-ver2", "parking", "review"} {
			if w, ok := weights[app]; ok {
				wt = append(wt, types.WeightedTargetGroup{TargetGroupIdentifier: aws.String(tgs[app]), Weight: aws.Int32(w)})
			}
		}
		return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: wt}}
	}
	service := func(name string, def types.RuleAction) (*vpclattice.CreateServiceOutput, *vpclattice.CreateListenerOutput) {
		svc, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(name)})
		must(svc, err)
		must(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id}))
		l, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http-80"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80), DefaultAction: def})
		must(l, err)
		return svc, l
	}
	inv, _ := service("inventory-default", forward(map[string]int32{"inventory-ver1": 50, "inventory-ver2": 50}))
	h.inventory, h.dnsName = *inv.Id, *inv.DnsEntry.DomainName
	rates, l := service("rates-default", &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}})
	for i, app := range []string{"parking", "review"} {
		must(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: rates.Id, ListenerIdentifier: l.Id,
			Name: aws.String("rates-" + app), Priority: aws.Int32(int32(i + 1)), Action: forward(map[string]int32{app: 1}),
			Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{
				Match: &types.PathMatchTypeMemberPrefix{Value: "/" + app}}}}}))
	}
	return h
}

func startBackend(t *testing.T, name, addr string) *http.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "Requesting to Pod(%s)\n", name)
	})}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// send makes n requests to the inventory service through the data plane.
func (h *hotel) send(t *testing.T, n int) {
	t.Helper()
	addr, ok := h.dp.ListenerAddr(80)
	if !ok {
		t.Fatal("data plane does not serve port 80")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for range n {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = h.dnsName
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET inventory: %d", resp.StatusCode)
		}
	}
}

// browser starts headless Chromium, or skips the test when none is installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium on PATH: install it with `apt-get install -y chromium` (hack/install-test-assets.sh does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// waitFor polls a JavaScript condition on the page.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))
}

func text(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {}).textContent`, sel)
}

func TestConsoleInBrowser(t *testing.T) {
	h := startHotel(t)
	ctx := browser(t)
	shots := t.ArtifactDir()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, target)
			if err != nil {
				return err
			}
			if *updateDocs && name == "service-live-split" {
				if err := os.WriteFile(filepath.Join("..", "..", "..", "docs", "images", "console.png"), png, 0o644); err != nil {
					return err
				}
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	run("the service list shows both services",
		chromedp.Navigate(h.console+"#/services"),
		chromedp.WaitVisible(`tr[data-service="inventory-default"]`),
		chromedp.WaitVisible(`tr[data-service="rates-default"]`),
		shot("services"))

	run("the inventory rule shows the 50/50 split",
		chromedp.Navigate(h.console+"#/service/"+h.inventory),
		waitFor(text(`[data-weight="inventory-ver1"]`)+` === "50%" && `+text(`[data-weight="inventory-ver2"]`)+` === "50%"`),
		waitFor(text(`tr[data-target="`+net79+`1:8090"] .health`)+` === "HEALTHY"`),
		waitFor(text(`[data-live="inventory-ver1"]`)+` === "0"`),
		shot("service"))

	h.send(t, 100)
	run("100 requests move the live split counters without a reload",
		waitFor(text(`[data-live="inventory-ver1"]`)+` === "50" && `+text(`[data-live="inventory-ver2"]`)+` === "50"`),
		shot("service-live-split"))

	if err := h.backends["inventory-ver2"].Close(); err != nil {
		t.Fatal(err)
	}
	run("the stopped backend's target turns UNHEALTHY",
		waitFor(text(`tr[data-target="`+net79+`2:8090"] .health`)+` === "UNHEALTHY"`),
		waitFor(text(`tr[data-target="`+net79+`2:8090"] .reason`)+` !== ""`),
		waitFor(text(`tr[data-target="`+net79+`1:8090"] .health`)+` === "HEALTHY"`),
		shot("service-unhealthy-target"))

	run("service networks show the VPC association",
		chromedp.Navigate(h.console+"#/networks"),
		waitFor(`!!document.querySelector('[data-network="my-hotel"]') && document.querySelector('[data-network="my-hotel"]').textContent.includes("vpc-0123456789abcdef0")`),
		shot("networks"))

	run("the requests page lists the latest requests",
		chromedp.Navigate(h.console+"#/requests"),
		waitFor(`document.querySelectorAll("#requests tr").length === 101`),
		shot("requests"))
	t.Logf("screenshots in %s (keep them with go test -artifacts)", shots)
}
