// Command iamauth measures what IAM auth costs Local Lattice's data plane per request: the same
// backend is served by a service with authType NONE, one with AWS_IAM and a policy allowing
// anonymous callers (policy evaluation only), and one with AWS_IAM and a policy allowing one
// principal, called with a SigV4-signed request (verification + evaluation). The three are
// measured in the same run, interleaved in rounds so that machine noise hits all alike; the
// signed request is signed once, so only the server's work is measured. It also reports the
// in-process cost of iamauth.Verify and iamauth.Authorize.
//
//	go run ./bench/iamauth -n 5000 -rounds 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/iamauth"
)

func main() {
	n := flag.Int("n", 3000, "requests per service per round")
	rounds := flag.Int("rounds", 5, "rounds (each calls every service n times)")
	ip := flag.String("ip", "127.0.61.1", "loopback address for the data plane and the backend")
	flag.Parse()
	if err := run(*n, *rounds, *ip); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// service is one measured configuration.
type service struct {
	name, host string
	auth       types.AuthType
	policy     string
	signed     bool
	latencies  []time.Duration
}

func run(n, rounds int, ip string) error {
	ctx := context.Background()
	backend, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return err
	}
	go func() {
		_ = http.Serve(backend, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	}()
	dir, err := os.MkdirTemp("", "iamauth-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o := api.DefaultOptions()
	o.APIAddr, o.AdminAddr = "127.0.0.1:0", ""
	ll, err := locallattice.Start(ctx, locallattice.Options{API: o,
		DataPlane: &dataplane.Options{DNSAddr: ip + ":0", DataPlaneAddr: ip, ListenerPortOffset: 8000, DataDir: dir}})
	if err != nil {
		return err
	}
	defer ll.Close()
	dp := ll.DataPlane
	me := dp.Principal()
	allowMe := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["` + me.ARN + `"]},"Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":["GET","POST"]}}}]}`
	allowAnyone := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	services := []*service{
		{name: "none", auth: types.AuthTypeNone},
		{name: "iam-anonymous", auth: types.AuthTypeAwsIam, policy: allowAnyone},
		{name: "iam-sigv4", auth: types.AuthTypeAwsIam, policy: allowMe, signed: true},
	}
	c := ll.NewClient()
	if err := configure(ctx, c, backend.Addr().(*net.TCPAddr), services); err != nil {
		return err
	}
	addr, ok := dp.ListenerAddr(80)
	if !ok {
		return fmt.Errorf("listener port 80 is not served")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	creds := aws.Credentials{AccessKeyID: me.AccessKeyID, SecretAccessKey: me.SecretAccessKey}
	for round := range rounds {
		for _, s := range services {
			req, err := http.NewRequest("GET", "http://"+s.host+"/bench", nil)
			if err != nil {
				return err
			}
			if s.signed {
				// Valid for five minutes; each round signs afresh.
				req.Header.Set("X-Amz-Content-Sha256", iamauth.UnsignedPayload)
				if err := v4.NewSigner().SignHTTP(ctx, creds, req, iamauth.UnsignedPayload, iamauth.SigningName, o.Region, time.Now()); err != nil {
					return err
				}
			}
			for i := range n + n/10 {
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%s: status %d", s.name, resp.StatusCode)
				}
				if i >= n/10 { // the first tenth warms up connections and caches
					s.latencies = append(s.latencies, time.Since(start))
				}
			}
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", round+1, rounds)
	}
	report(services, n*rounds)
	micro(me, o.Region, allowMe)
	return nil
}

func configure(ctx context.Context, c *vpclattice.Client, backend *net.TCPAddr, services []*service) error {
	for _, s := range services {
		// A target group serves one service, so each gets its own, all holding the one backend.
		tg, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(s.name), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(int32(backend.Port)), Protocol: types.TargetGroupProtocolHttp,
				VpcIdentifier: aws.String("vpc-0123456789abcdef0"), HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}})
		if err != nil {
			return fmt.Errorf("create target group: %w", err)
		}
		if _, err := c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(backend.IP.String())}}}); err != nil {
			return fmt.Errorf("register target: %w", err)
		}
		svc, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(s.name), AuthType: s.auth})
		if err != nil {
			return fmt.Errorf("create service %s: %w", s.name, err)
		}
		s.host = aws.ToString(svc.DnsEntry.DomainName)
		if s.policy != "" {
			if _, err := c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: svc.Id, Policy: aws.String(s.policy)}); err != nil {
				return fmt.Errorf("put auth policy: %w", err)
			}
		}
		if _, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80),
			DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}}); err != nil {
			return fmt.Errorf("create listener: %w", err)
		}
	}
	return nil
}

func report(services []*service, n int) {
	fmt.Printf("%d requests per service, sequential over keep-alive connections\n", n)
	fmt.Printf("%-14s %9s %9s %9s %11s %10s\n", "service", "mean µs", "p50 µs", "p99 µs", "mean ratio", "p50 ratio")
	for _, s := range services {
		slices.Sort(s.latencies)
	}
	none := services[0].latencies
	for _, s := range services {
		m, p := mean(s.latencies), pct(s.latencies, 50)
		fmt.Printf("%-14s %9.1f %9.1f %9.1f %10.2fx %9.2fx\n", s.name, us(m), us(p), us(pct(s.latencies, 99)),
			float64(m)/float64(mean(none)), float64(p)/float64(pct(none, 50)))
	}
	for _, s := range services[1:] {
		fmt.Printf("added by %s: %+.1f µs mean, %+.1f µs p50 per request\n", s.name, us(mean(s.latencies)-mean(none)), us(pct(s.latencies, 50)-pct(none, 50)))
	}
}

// micro measures the pure auth work alone, without the network.
func micro(me dataplane.PrincipalEntry, region, policy string) {
	secret := iamauth.Secret{SecretAccessKey: me.SecretAccessKey, Principal: &iamauth.Principal{ARN: me.ARN}}
	lookup := func(string) (iamauth.Secret, bool) { return secret, true }
	req, _ := http.NewRequest("GET", "http://svc.example/bench", nil)
	req.Header.Set("X-Amz-Content-Sha256", iamauth.UnsignedPayload)
	now := time.Now()
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: me.AccessKeyID, SecretAccessKey: me.SecretAccessKey},
		req, iamauth.UnsignedPayload, iamauth.SigningName, region, now)
	p, err := iamauth.Parse(policy)
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	levels := []iamauth.Level{{Kind: "service", Policy: p}}
	verify := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := iamauth.Verify(req, region, now, lookup); err != nil {
				b.Fatal(err)
			}
		}
	})
	authorize := testing.Benchmark(func(b *testing.B) {
		r := &iamauth.Request{Principal: secret.Principal, Action: iamauth.ActionInvoke, Resource: "arn:x/bench",
			Keys: map[string]string{"vpc-lattice-svcs:requestmethod": "GET"}}
		for b.Loop() {
			if ok, _ := iamauth.Authorize(levels, r); !ok {
				b.Fatal("denied")
			}
		}
	})
	fmt.Printf("iamauth.Verify:    %s\niamauth.Authorize: %s\n", verify.String()+" "+verify.MemString(), authorize.String()+" "+authorize.MemString())
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(max(1, len(ds)))
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
