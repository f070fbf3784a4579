package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

func TestPodAddr(t *testing.T) {
	for _, tc := range []struct{ ip, addr string }{
		{"10.244.0.2", "127.244.0.2"},
		{"10.244.17.254", "127.244.17.254"},
		{"10.245.0.2", "10.245.0.2"},
		{"192.168.1.1", "192.168.1.1"},
		{"::1", "::1"},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := PodAddr(ip); got.String() != tc.addr {
			t.Errorf("PodAddr(%s) = %s, want %s", tc.ip, got, tc.addr)
		}
		if got := PodDialMap().Map(ip); got != PodAddr(ip) {
			t.Errorf("PodDialMap maps %s to %s, the kubelet serves it on %s", tc.ip, got, PodAddr(ip))
		}
		if got := PodIP(PodAddr(ip)); got != ip {
			t.Errorf("PodIP(PodAddr(%s)) = %s", tc.ip, got)
		}
	}
}

// recorder collects the failures PodDialer reports, so refused dials can be asserted.
type recorder struct{ errs []string }

func (r *recorder) Helper()                           {}
func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }

func TestPodDialerRefusesNonLoopback(t *testing.T) {
	rec := &recorder{}
	dial := PodDialer(rec)
	for _, addr := range []string{"192.0.2.1:80", "example.com:80", "10.245.0.1:80"} {
		if conn, err := dial(context.Background(), "tcp", addr); err == nil {
			conn.Close()
			t.Errorf("dial %s succeeded", addr)
		}
	}
	if len(rec.errs) != 3 {
		t.Errorf("refused dials reported %d test failures, want 3", len(rec.errs))
	}
	l, err := net.Listen("tcp", "127.244.250.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	conn, err := dial(context.Background(), "tcp", net.JoinHostPort("10.244.250.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("dial a pod IP: %v", err)
	}
	conn.Close()
}

func TestIPAM(t *testing.T) {
	a, b := newIPAM(), newIPAM()
	defer a.close()
	defer b.close()
	first, err := a.allocate()
	if err != nil {
		t.Fatal(err)
	}
	second, _ := a.allocate()
	if second.Compare(first) <= 0 {
		t.Errorf("allocations %s then %s are not increasing", first, second)
	}
	// Another allocator (another test cluster) must get a different block.
	other, err := b.allocate()
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := blockOf(first)
	bb, _ := blockOf(other)
	if ba == bb {
		t.Errorf("two allocators share block %d (%s, %s)", ba, first, other)
	}
	a.release(first)
	if again, _ := a.allocate(); again != first {
		t.Errorf("released %s, then got %s; want it reused", first, again)
	}
	if a.reserve(second) {
		t.Errorf("reserved %s twice", second)
	}
	if a.reserve(other) {
		t.Errorf("reserved %s from a block another cluster owns", other)
	}
	// Fill the first block: .0 and .255 are never handed out, and a new block follows.
	seen := map[netip.Addr]bool{}
	for range 16 * 254 {
		ip, err := a.allocate()
		if err != nil {
			t.Fatal(err)
		}
		if b4 := ip.As4(); b4[3] == 0 || b4[3] == 255 {
			t.Fatalf("allocated %s", ip)
		}
		if seen[ip] {
			t.Fatalf("allocated %s twice", ip)
		}
		seen[ip] = true
	}
	if len(a.blocks) != 2 {
		t.Errorf("blocks %v after filling one, want 2", a.blocks)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B": "x"}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)-$(B)", "1-x"},
		{"$(C)", "$(C)"},
		{"$$(A)", "$(A)"},
		{"$A", "$A"},
	} {
		if got := expand(tc.in, env); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestContainerSpec(t *testing.T) {
	optional := true
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tls"}, Data: map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"mode": "fast", "Corefile": "."}},
	)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p-1", UID: "u1", Labels: map[string]string{"app": "a"}},
		Spec: corev1.PodSpec{NodeName: "n", Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls", Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "crt"}}}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}},
	}
	for _, tc := range []struct {
		name    string
		c       corev1.Container
		env     map[string]string
		files   map[string]string
		wantErr string
	}{{
		name: "downward API, refs and expansion",
		c: corev1.Container{Name: "c", Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
			{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tls"}, Key: "tls.key"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &optional}}},
			{Name: "URL", Value: "http://$(IP):80/$(APP)"},
		}},
		env: map[string]string{"POD_NAME": "p-1", "IP": "10.244.0.9", "APP": "a", "MODE": "fast", "KEY": "K", "OPT": "", "URL": "http://10.244.0.9:80/a"},
	}, {
		name: "volumes, items and subPath",
		c: corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
			{Name: "s", MountPath: "/etc/secret-volume"},
			{Name: "c", MountPath: "/root/Corefile", SubPath: "Corefile"},
			{Name: "e", MountPath: "/scratch"},
		}},
		env:   map[string]string{},
		files: map[string]string{"/etc/secret-volume/crt": "C", "/root/Corefile": "."},
	}, {
		name:    "missing secret",
		c:       corev1.Container{Name: "c", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}},
		wantErr: "secret nope",
	}, {
		name:    "unknown field",
		c:       corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}}},
		wantErr: "unsupported fieldRef",
	}, {
		name:    "undefined volume",
		c:       corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "zzz", MountPath: "/z"}}},
		wantErr: "volume zzz is not defined",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerSpec(context.Background(), cs, pod, tc.c, netip.MustParseAddr("10.244.0.9"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr.String() != "127.244.0.9" {
				t.Errorf("addr %s", got.Addr)
			}
			if len(got.Env) != len(tc.env) {
				t.Errorf("env %v, want %v", got.Env, tc.env)
			}
			for k, v := range tc.env {
				if got.Env[k] != v {
					t.Errorf("env %s = %q, want %q", k, got.Env[k], v)
				}
			}
			if len(got.Files) != len(tc.files) {
				t.Errorf("files %v, want %v", got.Files, tc.files)
			}
			for k, v := range tc.files {
				if string(got.Files[k]) != v {
					t.Errorf("file %s = %q, want %q", k, got.Files[k], v)
				}
			}
		})
	}
}

func TestPodStatus(t *testing.T) {
	gate := corev1.PodConditionType("application-networking.k8s.aws/pod-readiness-gate")
	for _, tc := range []struct {
		name       string
		gates      []corev1.PodReadinessGate
		conditions []corev1.PodCondition
		startErr   error
		phase      corev1.PodPhase
		ready      corev1.ConditionStatus
	}{
		{name: "no gates", phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "gate missing", gates: []corev1.PodReadinessGate{{ConditionType: gate}}, phase: corev1.PodRunning, ready: corev1.ConditionFalse},
		{name: "gate false", gates: []corev1.PodReadinessGate{{ConditionType: gate}},
			conditions: []corev1.PodCondition{{Type: gate, Status: corev1.ConditionFalse}}, phase: corev1.PodRunning, ready: corev1.ConditionFalse},
		{name: "gate true", gates: []corev1.PodReadinessGate{{ConditionType: gate}},
			conditions: []corev1.PodCondition{{Type: gate, Status: corev1.ConditionTrue}}, phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "container failed", startErr: errors.New("address already in use"), phase: corev1.PodPending, ready: corev1.ConditionFalse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				Spec:   corev1.PodSpec{ReadinessGates: tc.gates, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
				Status: corev1.PodStatus{Conditions: tc.conditions},
			}
			run := &podRun{ip: netip.MustParseAddr("10.244.0.3"), started: metav1.Now(), err: tc.startErr}
			s := podStatus(pod, run)
			pod.Status = *s
			if s.Phase != tc.phase || condition(pod, corev1.PodReady) != tc.ready || s.PodIP != "10.244.0.3" {
				t.Errorf("phase %s ready %s ip %s; want %s %s", s.Phase, condition(pod, corev1.PodReady), s.PodIP, tc.phase, tc.ready)
			}
			for _, c := range tc.conditions {
				if got := findCondition(s.Conditions, c.Type); got == nil || got.Status != c.Status {
					t.Errorf("condition %s owned by someone else changed: %v", c.Type, got)
				}
			}
			// A second computation from the stored status changes nothing (no update loop).
			if again := podStatus(pod, run); !statusEqual(again, s) {
				t.Errorf("status not stable:\n%+v\n%+v", again, s)
			}
		})
	}
}

func statusEqual(a, b *corev1.PodStatus) bool {
	if len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		if a.Conditions[i] != b.Conditions[i] {
			return false
		}
	}
	return a.Phase == b.Phase && a.PodIP == b.PodIP
}

func TestDecodeManifests(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"docs and empty docs", "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n", 2, ""},
		{"list", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}`, 1, ""},
		{"no name", "apiVersion: v1\nkind: Namespace\n", 0, "metadata.name"},
		{"not yaml", "a: [", 0, "document 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := decodeManifests(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(objs) != tc.n {
				t.Fatalf("got %d objects, %v; want %d", len(objs), err, tc.n)
			}
		})
	}
}

func TestApps(t *testing.T) {
	got := Apps(map[string]int{
		"inventory-ver1-7bb6989d9d-2p2hk": 7, "inventory-ver1-7bb6989d9d-x9x9x": 8,
		"inventory-ver2-6dc74b45d8-rlnlt": 15, "gated": 1, "status 503": 2,
	})
	want := map[string]int{"inventory-ver1": 15, "inventory-ver2": 15, "gated": 1, "status 503": 2}
	if len(got) != len(want) {
		t.Fatalf("Apps = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Apps[%s] = %d, want %d", k, got[k], v)
		}
	}
}

func TestResolveDNS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "rates-0a1b.7d67968.vpc-lattice-svcs.us-west-2.on.aws." {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 5, 1)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer srv.Shutdown()
	addr := pc.LocalAddr().String()
	for _, tc := range []struct {
		name, dnsAddr, want, err string
	}{
		{"rates-0a1b.7d67968.vpc-lattice-svcs.us-west-2.on.aws", addr, "127.0.5.1", ""},
		{"nope.example", addr, "", "NXDOMAIN"},
		{"x.example", "192.0.2.53:53", "", "refused"},
		{"x.example", "localhost:53", "", "refused"},
	} {
		ips, err := ResolveDNS(tc.name, tc.dnsAddr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveDNS(%s) error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || len(ips) != 1 || ips[0].String() != tc.want {
			t.Errorf("ResolveDNS(%s) = %v, %v; want %s", tc.name, ips, err, tc.want)
		}
	}
}

func testCert(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "echo.example.com"},
		DNSNames: []string{"echo.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(ecKeyPEM(key))
}

func httpsClient(dial dataplane.DialFunc) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "echo.example.com"},
	}}
}
