package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// parkingApp is the principal the IAMAuthPolicy allows; it signs with a key of the data plane's
// principals file. The data plane's own principal (created at start) is the one it does not allow.
var parkingApp = dataplane.PrincipalEntry{AccessKeyID: "AKIAPARKINGAPP000001", SecretAccessKey: "parking-app-secret",
	ARN: "arn:aws:iam::" + accountID + ":role/parking-app"}

// TestPolicyTraffic proves the four policies with real traffic through the controller and Local
// Lattice's data plane: IAM auth with SigV4-signed requests, access logs on the Gateway and a
// route, a health check that takes one Pod out of rotation; then nothing leaks on delete.
func TestPolicyTraffic(t *testing.T) {
	principals, err := yaml.Marshal(dataplane.PrincipalsFile{Principals: []dataplane.PrincipalEntry{parkingApp}})
	if err != nil {
		t.Fatal(err)
	}
	principalsFile := filepath.Join(t.TempDir(), "principals.yaml")
	if err := os.WriteFile(principalsFile, principals, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEnvWith(t, "127.0.72.1", principalsFile)
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.policyClient(t)
	e.apply(t, harness.Manifest(t, "hotel-gateway.yaml", nil)+"---\n"+harness.Manifest(t, "policy-traffic.yaml", nil))
	secure, web := e.routeEndpoint(t, "secure"), e.routeEndpoint(t, "web")
	dial := cluster.PodDialer(t)
	// Targets start INITIAL until their first health check: wait until every Pod answers.
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		got := cluster.Apps(cluster.SendRequests(20, web.url, web.host, dial))
		return cluster.Apps(cluster.SendRequests(1, secure.url, secure.host, dial))["echo"] == 1 &&
			got["web-good"]+got["web-bad"] == 20 && got["web-good"] > 0 && got["web-bad"] > 0
	}, func() string { return fmt.Sprint(cluster.SendRequests(20, web.url, web.host, dial)) }))

	t.Run("IAM auth: signed by the allowed principal passes, others get 403", func(t *testing.T) {
		other := e.dp.Principal()
		auth := &v1alpha1.IAMAuthPolicy{ObjectMeta: objMeta("default", "secure-auth")}
		applyAuth := func(principal string) {
			t.Helper()
			e.apply(t, fmt.Sprintf(`apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata: {name: secure-auth, namespace: default}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: secure}
  policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":%s,"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'
`, principal))
		}
		applyAuth(`{"AWS":"` + parkingApp.ARN + `"}`)
		// Programmed means Lattice holds the policy; the data plane applies it with the same change.
		policyProgrammed(t, k, auth)
		harness.Eventually(t, 30*time.Second, harness.That(func() bool {
			return secure.get(t, dial, nil, nil).code == http.StatusForbidden
		}, func() string { return "unsigned requests still pass" }))

		const n = 10
		for range n {
			r := secure.get(t, dial, &parkingApp, nil)
			if r.code != http.StatusOK {
				t.Fatalf("signed by %s: %d %s, want 200", parkingApp.ARN, r.code, r.body)
			}
			if got := r.echo(t).Headers["X-Amzn-Lattice-Identity"]; len(got) != 1 || got[0] != "Principal="+parkingApp.ARN {
				t.Fatalf("backend saw x-amzn-lattice-identity %q, want [Principal=%s]", got, parkingApp.ARN)
			}
		}
		for range n {
			if r := secure.get(t, dial, nil, nil); r.code != http.StatusForbidden || !strings.Contains(string(r.body), `"AccessDeniedException"`) {
				t.Fatalf("unsigned: %d %s, want 403 AccessDeniedException", r.code, r.body)
			}
			if r := secure.get(t, dial, &other, nil); r.code != http.StatusForbidden || !strings.Contains(string(r.body), `"AccessDeniedException"`) {
				t.Fatalf("signed by %s: %d %s, want 403 AccessDeniedException", other.ARN, r.code, r.body)
			}
		}

		applyAuth(`"*"`)
		policyProgrammed(t, k, auth)
		harness.Eventually(t, 30*time.Second, harness.That(func() bool {
			return secure.get(t, dial, nil, nil).code == http.StatusOK
		}, func() string { return "unsigned requests still denied after allowing *" }))
		forged := map[string]string{"X-Amzn-Lattice-Identity": "Principal=arn:aws:iam::" + accountID + ":role/admin"}
		for range n {
			r := secure.get(t, dial, nil, forged)
			if r.code != http.StatusOK {
				t.Fatalf("unsigned with Principal *: %d %s, want 200", r.code, r.body)
			}
			// An anonymous caller has no identity, and the client's copy never reaches the backend.
			if got := r.echo(t).Headers["X-Amzn-Lattice-Identity"]; len(got) != 0 {
				t.Fatalf("backend saw x-amzn-lattice-identity %q for an anonymous caller", got)
			}
			if r := secure.get(t, dial, &other, nil); r.code != http.StatusOK {
				t.Fatalf("signed by %s with Principal *: %d %s, want 200", other.ARN, r.code, r.body)
			}
		}

		svcID := e.serviceID(t, "secure-default")
		if err := k.Delete(ctx, auth); err != nil {
			t.Fatal(err)
		}
		waitGoneIn(t, k, auth)
		out, err := e.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(svcID)})
		if err != nil {
			t.Fatal(err)
		}
		if out.AuthType != types.AuthTypeNone {
			t.Errorf("service secure-default has auth type %s after the policy went, want NONE", out.AuthType)
		}
		if _, err := e.client.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String(svcID)}); !isNotFound(err) {
			t.Errorf("GetAuthPolicy after the policy went: %v, want ResourceNotFoundException", err)
		}
		for range n {
			if r := secure.get(t, dial, nil, nil); r.code != http.StatusOK {
				t.Fatalf("unsigned after the policy went: %d %s, want 200", r.code, r.body)
			}
		}
	})

	t.Run("access logs: one line per request in the Gateway's and the route's destination", func(t *testing.T) {
		const gwDest, routeDest = "arn:aws:s3:::hotel-access-logs", "arn:aws:logs:us-west-2:123456789012:log-group:web"
		e.apply(t, `apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {name: hotel-logs, namespace: default}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: my-hotel}
  destinationArn: `+gwDest+`
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {name: web-logs, namespace: default}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: web}
  destinationArn: `+routeDest+"\n")
		gwLogs, routeLogs := &v1alpha1.AccessLogPolicy{ObjectMeta: objMeta("default", "hotel-logs")}, &v1alpha1.AccessLogPolicy{ObjectMeta: objMeta("default", "web-logs")}
		policyProgrammed(t, k, gwLogs)
		policyProgrammed(t, k, routeLogs)
		dataDir := filepath.Dir(e.dp.AccessLogDir())
		gwFile, routeFile := dataplane.AccessLogPath(dataDir, gwDest), dataplane.AccessLogPath(dataDir, routeDest)
		// The subscriptions reach the data plane with the change that created them; from the
		// first logged request on, every request is logged.
		harness.Eventually(t, 30*time.Second, harness.That(func() bool {
			cluster.SendRequests(1, web.url, web.host, dial)
			return len(readAccessLog(t, gwFile)) > 0 && len(readAccessLog(t, routeFile)) > 0
		}, func() string { return "no access log line yet in " + gwFile + " and " + routeFile }))
		gwBefore, routeBefore := len(readAccessLog(t, gwFile)), len(readAccessLog(t, routeFile))

		const n = 25
		if got := cluster.Apps(cluster.SendRequests(n, web.url, web.host, dial)); got["web-good"]+got["web-bad"] != n {
			t.Fatalf("%d requests: %v", n, got)
		}
		snap := e.lattice.Store().Snapshot()
		want := accessLogLine{RequestMethod: "GET", RequestPath: "/", ResponseCode: 200}
		for _, sn := range snap.ServiceNetworks {
			if sn.Name == "my-hotel" {
				want.ServiceNetworkARN = sn.ARN
			}
		}
		for _, svc := range snap.Services {
			if svc.Name == "web-default" {
				want.ServiceARN = svc.ARN
			}
		}
		for _, tg := range snap.TargetGroups {
			if strings.HasPrefix(tg.Name, "k8s-default-web-") {
				want.TargetGroupARN = tg.ARN
			}
		}
		for _, c := range []struct {
			file   string
			before int
		}{{gwFile, gwBefore}, {routeFile, routeBefore}} {
			// A line is written once the response is sent, which may be just after the client read it.
			harness.Eventually(t, 10*time.Second, harness.That(func() bool { return len(readAccessLog(t, c.file)) >= c.before+n },
				func() string {
					return fmt.Sprintf("%s: %d new lines after %d requests", c.file, len(readAccessLog(t, c.file))-c.before, n)
				}))
			lines := readAccessLog(t, c.file)
			if len(lines) != c.before+n {
				t.Errorf("%s: %d new lines after %d requests, want %d", c.file, len(lines)-c.before, n, n)
				continue
			}
			for i, l := range lines[c.before:] {
				if l != want {
					t.Errorf("%s: line %d = %+v, want %+v", c.file, c.before+i, l, want)
				}
			}
		}

		if err := k.Delete(ctx, gwLogs); err != nil {
			t.Fatal(err)
		}
		if err := k.Delete(ctx, routeLogs); err != nil {
			t.Fatal(err)
		}
		waitGoneIn(t, k, gwLogs, routeLogs)
		for _, arn := range []string{want.ServiceNetworkARN, want.ServiceARN} {
			out, err := e.client.ListAccessLogSubscriptions(ctx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Items) != 0 {
				t.Errorf("%s keeps %d access log subscriptions after the policies went", arn, len(out.Items))
			}
		}
		gwBefore, routeBefore = len(readAccessLog(t, gwFile)), len(readAccessLog(t, routeFile))
		cluster.SendRequests(5, web.url, web.host, dial)
		if g, r := len(readAccessLog(t, gwFile)), len(readAccessLog(t, routeFile)); g != gwBefore || r != routeBefore {
			t.Errorf("requests still logged after the subscriptions went: %d and %d new lines", g-gwBefore, r-routeBefore)
		}
	})

	t.Run("health check: the failing Pod goes UNHEALTHY and gets no traffic", func(t *testing.T) {
		e.apply(t, `apiVersion: application-networking.k8s.aws/v1alpha1
kind: TargetGroupPolicy
metadata: {name: web, namespace: default}
spec:
  targetRef: {group: "", kind: Service, name: web}
  healthCheck: {enabled: true, port: 8091, path: /healthz, intervalSeconds: 5, timeoutSeconds: 2,
    healthyThresholdCount: 2, unhealthyThresholdCount: 2, statusMatch: "200"}
`)
		policyProgrammed(t, k, &v1alpha1.TargetGroupPolicy{ObjectMeta: objMeta("default", "web")})
		tgID := ""
		for _, tg := range e.lattice.Store().Snapshot().TargetGroups {
			if strings.HasPrefix(tg.Name, "k8s-default-web-") {
				tgID = tg.ID
			}
		}
		good, bad := e.podAddr(t, "web-good"), e.podAddr(t, "web-bad")
		var targets []types.TargetSummary
		harness.Eventually(t, 30*time.Second, harness.That(func() bool {
			out, err := e.client.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: aws.String(tgID)})
			if err != nil {
				return false
			}
			targets = out.Items
			status := map[string]types.TargetStatus{}
			for _, tt := range targets {
				status[aws.ToString(tt.Id)] = tt.Status
			}
			return len(targets) == 2 && status[good] == types.TargetStatusHealthy && status[bad] == types.TargetStatusUnhealthy
		}, func() string {
			return fmt.Sprintf("targets %s; web-good %s, web-bad %s", describeTargets(targets), good, bad)
		}))
		for _, tt := range targets {
			if aws.ToString(tt.Id) == bad && aws.ToString(tt.ReasonCode) != "ConnectionFailed" {
				t.Errorf("web-bad's target reason code %q, want ConnectionFailed", aws.ToString(tt.ReasonCode))
			}
		}
		const m = 100
		if got := cluster.Apps(cluster.SendRequests(m, web.url, web.host, dial)); got["web-good"] != m {
			t.Errorf("%d requests with web-bad UNHEALTHY: %v, want all on web-good", m, got)
		}
	})

	t.Run("nothing leaks on delete", func(t *testing.T) {
		objs := []client.Object{&v1alpha1.TargetGroupPolicy{ObjectMeta: objMeta("default", "web")},
			&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "secure")}, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "web")},
			&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")}}
		for _, obj := range objs {
			if err := k.Delete(ctx, obj); err != nil {
				t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
			}
		}
		waitGoneIn(t, k, objs...)
		e.latticeEmpty(t)
		snap := e.lattice.Store().Snapshot()
		if len(snap.AccessLogSubscriptions) != 0 || len(snap.AuthPolicies) != 0 {
			t.Errorf("left in Lattice: %d access log subscriptions, %d auth policies", len(snap.AccessLogSubscriptions), len(snap.AuthPolicies))
		}
	})
}

// endpoint is where a route's Lattice service answers: the data plane's listener and the
// service's DNS name as Host.
type endpoint struct{ url, host string }

// routeEndpoint waits until the route is programmed and resolves its service's DNS name with the
// data plane's DNS server.
func (e *env) routeEndpoint(t *testing.T, route string) endpoint {
	t.Helper()
	host := harness.RouteProgrammed(t, e.cluster.Client, "default", route, "my-hotel", 2*time.Minute).Annotations[status.AnnotationDomainName]
	ips, err := cluster.ResolveDNS(host, e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	return endpoint{url: "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/", host: host}
}

type response struct {
	code int
	body []byte
}

// get sends one GET with the extra headers, signed as a VPC Lattice client signs when by is not nil.
func (ep endpoint) get(t *testing.T, dial dataplane.DialFunc, by *dataplane.PrincipalEntry, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ep.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = ep.host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if by != nil {
		if err := harness.SignLatticeRequest(req, by.AccessKeyID, by.SecretAccessKey, region); err != nil {
			t.Fatal(err)
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	return response{code: resp.StatusCode, body: body}
}

// echo decodes echo-basic's answer.
func (r response) echo(t *testing.T) workloads.EchoResponse {
	t.Helper()
	var out workloads.EchoResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not an echo-basic answer: %s", r.body)
	}
	return out
}

// policyProgrammed waits until the policy is Accepted and Programmed for its generation.
func policyProgrammed(t *testing.T, k client.Client, p client.Object) {
	t.Helper()
	conds := func() []metav1.Condition { return p.(v1alpha1.Policy).GetConditions() }
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return k.Get(context.Background(), client.ObjectKeyFromObject(p), p) == nil &&
			harness.IsTrue(conds(), "Accepted", p.GetGeneration()) && harness.IsTrue(conds(), "Programmed", p.GetGeneration())
	}, func() string { return fmt.Sprintf("%T %s: %s", p, p.GetName(), harness.Describe(conds())) }))
}

func (e *env) serviceID(t *testing.T, name string) string {
	t.Helper()
	for _, svc := range e.lattice.Store().Snapshot().Services {
		if svc.Name == name {
			return svc.ID
		}
	}
	t.Fatalf("no Lattice service %s", name)
	return ""
}

// podAddr is the Pod IP, the Lattice target ID, of the Deployment's one Pod.
func (e *env) podAddr(t *testing.T, deployment string) string {
	t.Helper()
	pods := &corev1.PodList{}
	if err := e.cluster.Client.List(context.Background(), pods, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, deployment+"-") && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
			ips = append(ips, p.Status.PodIP)
		}
	}
	if len(ips) != 1 {
		t.Fatalf("Deployment %s has Pod IPs %v, want one", deployment, ips)
	}
	return ips[0]
}

func describeTargets(ts []types.TargetSummary) string {
	var parts []string
	for _, tt := range ts {
		parts = append(parts, fmt.Sprintf("%s:%d %s (%s)", aws.ToString(tt.Id), aws.ToInt32(tt.Port), tt.Status, aws.ToString(tt.ReasonCode)))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// accessLogLine is the part of an access log entry (reference §3.7 field names) that is the same
// for every request of the test.
type accessLogLine struct {
	ServiceNetworkARN string `json:"serviceNetworkArn"`
	ServiceARN        string `json:"serviceArn"`
	TargetGroupARN    string `json:"targetGroupArn"`
	RequestMethod     string `json:"requestMethod"`
	RequestPath       string `json:"requestPath"`
	ResponseCode      int    `json:"responseCode"`
}

// readAccessLog reads a destination file's entries; a file not written yet has none.
func readAccessLog(t *testing.T, path string) []accessLogLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []accessLogLine
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var l accessLogLine
		if err := json.Unmarshal(s.Bytes(), &l); err != nil {
			t.Fatalf("%s: line %q: %v", path, s.Text(), err)
		}
		out = append(out, l)
	}
	return out
}
