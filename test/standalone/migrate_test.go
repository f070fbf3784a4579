package standalone

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// upstreamOwner is the ManagedBy value the upstream controller wrote, and the one our `run`
// below uses (--cluster-name other): the same cluster switching controllers.
const upstreamOwner = "123456789012/other/vpc-0123456789abcdef0"

const tagPrefix = "application-networking.k8s.aws/"

// longRoute has a 25-character name: upstream truncates it to 20 in the service name.
const longRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reservations-long-name-25
spec:
  parentRefs:
  - name: my-hotel
  rules:
  - backendRefs:
    - name: reservations
      port: 8090
`

// upstreamLattice creates in Lattice, through the SDK, exactly what the AWS Gateway API
// Controller creates for the seed walkthrough plus longRoute: a service network made before the
// Gateway (untagged, as a user creates it) and associated with the VPC, services named
// trunc(route,20)-trunc(ns,18) with route tags, listeners <svc>-<port>-<proto>, rules
// k8s-<time>-rule-<n> (one rule per PathPrefix), target groups with random suffixes and port 80
// whose targets carry the pod port. It returns the DNS name of each service.
func upstreamLattice(t *testing.T, c *vpclattice.Client, pods map[string]string) map[string]string {
	t.Helper()
	owned := func(extra ...string) map[string]string {
		m := map[string]string{tagPrefix + "ManagedBy": upstreamOwner}
		for i := 0; i+1 < len(extra); i += 2 {
			m[tagPrefix+extra[i]] = extra[i+1]
		}
		return m
	}
	sn, err := c.CreateServiceNetwork(ctx(t), &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateServiceNetworkVpcAssociation(ctx(t), &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0"), Tags: owned()}); err != nil {
		t.Fatal(err)
	}
	tgs := map[string]string{}
	targetGroup := func(route, backend string) {
		suffix := strings.Repeat(string(rune('a'+len(tgs))), 10)
		out, err := c.CreateTargetGroup(ctx(t), &vpclattice.CreateTargetGroupInput{Name: aws.String("k8s-default-" + backend + "-" + suffix),
			Type: types.TargetGroupTypeIp, Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
				ProtocolVersion: types.TargetGroupProtocolVersionHttp1, IpAddressType: types.IpAddressTypeIpv4,
				VpcIdentifier: aws.String("vpc-0123456789abcdef0")},
			Tags: owned("ClusterName", "other", "ServiceName", backend, "ServiceNamespace", "default", "SourceTypeKey", "HTTPRoute",
				"ProtocolVersion", "HTTP1", "RouteName", route, "RouteNamespace", "default")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.RegisterTargets(ctx(t), &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: out.Id,
			Targets: []types.Target{{Id: aws.String(pods[backend]), Port: aws.Int32(8090)}}}); err != nil {
			t.Fatal(err)
		}
		tgs[backend] = aws.ToString(out.Id)
	}
	forward := func(weights ...any) *types.RuleActionMemberForward {
		f := &types.RuleActionMemberForward{}
		for i := 0; i+1 < len(weights); i += 2 {
			f.Value.TargetGroups = append(f.Value.TargetGroups, types.WeightedTargetGroup{
				TargetGroupIdentifier: aws.String(tgs[weights[i].(string)]), Weight: aws.Int32(int32(weights[i+1].(int)))})
		}
		return f
	}
	dns := map[string]string{}
	service := func(route string, prefix string, action types.RuleAction) {
		name := upstreamName(route, "default")
		svc, err := c.CreateService(ctx(t), &vpclattice.CreateServiceInput{Name: aws.String(name),
			Tags: owned("RouteName", route, "RouteNamespace", "default", "RouteType", "http")})
		if err != nil {
			t.Fatal(err)
		}
		dns[route] = aws.ToString(svc.DnsEntry.DomainName)
		if _, err := c.CreateServiceNetworkServiceAssociation(ctx(t), &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceIdentifier: svc.Id, ServiceNetworkIdentifier: sn.Id, Tags: owned()}); err != nil {
			t.Fatal(err)
		}
		l, err := c.CreateListener(ctx(t), &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String(name + "-80-http"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80), Tags: owned(),
			DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRule(ctx(t), &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
			Name: aws.String("k8s-1700000000-rule-1"), Priority: aws.Int32(1), Action: action, Tags: owned(),
			Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{CaseSensitive: aws.Bool(true),
				Match: &types.PathMatchTypeMemberPrefix{Value: prefix}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	targetGroup("inventory", "inventory-ver1")
	targetGroup("inventory", "inventory-ver2")
	targetGroup("rates", "parking")
	targetGroup("reservations-long-name-25", "reservations")
	service("inventory", "/", forward("inventory-ver1", 50, "inventory-ver2", 50))
	service("rates", "/parking", forward("parking", 1))
	service("reservations-long-name-25", "/", forward("reservations", 1))
	return dns
}

// upstreamName is upstream's service name: trunc(route,20)-trunc(namespace,18).
func upstreamName(route, ns string) string {
	return strings.TrimRight(route[:min(len(route), 20)], "-") + "-" + strings.TrimRight(ns[:min(len(ns), 18)], "-")
}

// TestMigrateFromUpstream: a cluster whose Lattice resources the upstream controller made
// switches to lattice-gateway with the same manifests. Nothing is created or deleted among
// services and target groups, DNS names stay, traffic never stops; tags and rules are brought
// in line.
func TestMigrateFromUpstream(t *testing.T) {
	pods(t, map[string]string{"127.0.33.1": "parking-pod", "127.0.33.11": "inventory-ver1-pod", "127.0.33.21": "inventory-ver2-pod",
		"127.0.33.31": "reservations-pod"})
	podIPs := map[string]string{"parking": "127.0.33.1", "inventory-ver1": "127.0.33.11", "inventory-ver2": "127.0.33.21",
		"reservations": "127.0.33.31"}

	// The host is Local Lattice (and its data plane) with nothing of its own to deploy.
	hostDir := t.TempDir()
	write(t, hostDir, "empty.yaml", "")
	host := startRun(t, hostDir, t.TempDir(), filepath.Join(t.TempDir(), "state.json"), freePort(t))
	dns := upstreamLattice(t, host.client, podIPs)
	before := host.counters(t)

	// Requests run through the whole switch; every one must reach a pod of its route.
	client := &http.Client{Timeout: 5 * time.Second}
	var sends []func() error
	for route, pod := range map[string]string{"inventory": "inventory-ver", "rates": "parking-pod", "reservations-long-name-25": "reservations-pod"} {
		path := "/"
		if route == "rates" {
			path = "/parking"
		}
		sends = append(sends, func() error {
			defer time.Sleep(5 * time.Millisecond)
			req, _ := http.NewRequest(http.MethodGet, "http://"+host.listener+path, nil)
			req.Host = dns[route]
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("%s%s: %w", route, path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if got, ok := workloads.PodOf(body); !ok || !strings.HasPrefix(got, pod) {
				return fmt.Errorf("%s%s: HTTP %d %q", route, path, resp.StatusCode, body)
			}
			return nil
		})
	}
	load := locallatticetest.StartLoad(sends...)
	time.Sleep(300 * time.Millisecond)

	dir := t.TempDir()
	write(t, dir, "base.yaml", base(t)+service(t, "inventory-ver1", podIPs["inventory-ver1"])+service(t, "inventory-ver2", podIPs["inventory-ver2"])+
		service(t, "parking", podIPs["parking"])+service(t, "reservations", podIPs["reservations"]))
	write(t, dir, "routes.yaml", inventoryRoute(t, 50, 50)+"---\n"+harness.Manifest(t, "rates-route.yaml", nil)+"---\n"+longRoute)
	p := start(t, "run", "-f", dir, "--lattice-endpoint", host.api, "--cluster-name", "other")
	for route := range dns {
		m, _ := p.WaitOutput(`HTTPRoute\s+default/`+route+`\s+Programmed\s+(\S+)`, 0, 60*time.Second)
		if m[1] != dns[route] {
			t.Errorf("%s: DNS name %s, upstream's was %s", route, m[1], dns[route])
		}
	}
	time.Sleep(time.Second)
	sent, failed, firstFailure := load.Stop()
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the switch; first: %v", failed, sent, firstFailure)
	}
	t.Logf("%d requests during the switch, %d failed", sent, failed)

	after := host.counters(t)
	delta := map[string]int64{}
	for op, codes := range after.Ops {
		for code, n := range codes {
			if d := n - before.Ops[op][code]; d > 0 && !strings.HasPrefix(op, "List") && !strings.HasPrefix(op, "Get") {
				delta[op+" "+code] += d
			}
		}
	}
	t.Logf("mutating calls of the switch: %v", delta)
	for _, op := range []string{"CreateService", "DeleteService", "CreateTargetGroup", "DeleteTargetGroup",
		"CreateServiceNetwork", "DeleteServiceNetwork", "DeleteServiceNetworkServiceAssociation", "RegisterTargets", "DeregisterTargets"} {
		for key, n := range delta {
			if strings.HasPrefix(key, op+" ") {
				t.Errorf("%s called %d times during the migration, want 0", key, n)
			}
		}
	}

	// The service network created before the Gateway is adopted: tagged as ours.
	sns, err := host.client.ListServiceNetworks(ctx(t), &vpclattice.ListServiceNetworksInput{})
	if err != nil || len(sns.Items) != 1 {
		t.Fatalf("service networks: %v %v", sns, err)
	}
	tags, err := host.client.ListTagsForResource(ctx(t), &vpclattice.ListTagsForResourceInput{ResourceArn: sns.Items[0].Arn})
	if err != nil || tags.Tags[tagPrefix+"ManagedBy"] != upstreamOwner {
		t.Errorf("service network tags %v %v, want ManagedBy %s", tags, err, upstreamOwner)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("exit after Ctrl-C: %v", err)
	}
}
