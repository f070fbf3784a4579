package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// startLocal runs `lattice-gateway local` in-process on free loopback ports and returns its
// endpoint, read from the instructions it prints. Extra flags override the defaults.
func startLocal(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetArgs(append([]string{"local", "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--draining-delay", "0s",
		"--dns-addr", "127.0.0.1:0", "--dataplane-addr", "127.0.0.1", "--data-dir", t.TempDir()}, extra...))
	root.SetOut(pw)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("local: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read banner: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if m == "" {
		t.Fatalf("no endpoint in %q", line)
	}
	return m
}

// TestAWSCLI drives the real `aws vpc-lattice` CLI through create, list, get, update and delete
// of every main resource. Each step's args may use {name} for a value an earlier step captured.
func TestAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed; skipping the CLI round trip")
	}
	if testing.Short() {
		t.Skip("the CLI round trip takes about a second per call")
	}
	runCLI(t, aws, startLocal(t), map[string]string{}, []cliStep{
		{args: "create-service-network --name cli-sn", capture: map[string]string{"sn": "id", "snArn": "arn"}},
		{args: "list-service-networks", expect: "cli-sn"},
		{args: "get-service-network --service-network-identifier {snArn}", expect: `"numberOfAssociatedServices": 0`},
		{args: "update-service-network --service-network-identifier {sn} --auth-type AWS_IAM", expect: "AWS_IAM"},
		{args: "create-service --name cli-svc", capture: map[string]string{"svc": "id", "svcArn": "arn"}, expect: "vpc-lattice-svcs.us-west-2.on.aws"},
		{args: "list-services", expect: "cli-svc"},
		{args: "get-service --service-identifier {svcArn}", expect: `"status": "ACTIVE"`},
		{args: "update-service --service-identifier {svc} --auth-type AWS_IAM", expect: "AWS_IAM"},
		{args: `create-target-group --name cli-tg --type IP --config {"port":8080,"protocol":"HTTP","vpcIdentifier":"vpc-12345678"}`, capture: map[string]string{"tg": "id"}},
		{args: "list-target-groups", expect: "cli-tg"},
		{args: `update-target-group --target-group-identifier {tg} --health-check {"enabled":true,"path":"/healthz"}`, expect: "/healthz"},
		{args: "register-targets --target-group-identifier {tg} --targets id=10.244.0.1,port=8080", expect: "10.244.0.1"},
		{args: `create-listener --service-identifier {svc} --name http --protocol HTTP --default-action {"forward":{"targetGroups":[{"targetGroupIdentifier":"{tg}"}]}}`, capture: map[string]string{"lis": "id"}},
		{args: "list-listeners --service-identifier {svc}", expect: `"port": 80`},
		{args: "get-listener --service-identifier {svc} --listener-identifier {lis}", expect: "{tg}"},
		{args: "list-targets --target-group-identifier {tg}", expect: `"status": "INITIAL"`},
		{args: "get-target-group --target-group-identifier {tg}", expect: "{svc}"},
		{args: `create-rule --service-identifier {svc} --listener-identifier {lis} --name api --priority 1 --match {"httpMatch":{"pathMatch":{"match":{"prefix":"/api"}}}} --action {"fixedResponse":{"statusCode":404}}`, capture: map[string]string{"rule": "id"}},
		{args: "list-rules --service-identifier {svc} --listener-identifier {lis}", expect: `"isDefault": true`},
		{args: "update-rule --service-identifier {svc} --listener-identifier {lis} --rule-identifier {rule} --priority 5", expect: `"priority": 5`},
		{args: "batch-update-rule --service-identifier {svc} --listener-identifier {lis} --rules ruleIdentifier={rule},priority=6", expect: `"priority": 6`},
		{args: "get-rule --service-identifier {svc} --listener-identifier {lis} --rule-identifier {rule}", expect: "/api"},
		{args: `update-listener --service-identifier {svc} --listener-identifier {lis} --default-action {"fixedResponse":{"statusCode":404}}`, expect: "404"},
		{args: "create-service-network-service-association --service-identifier {svc} --service-network-identifier {sn}", capture: map[string]string{"snsa": "id"}},
		{args: "list-service-network-service-associations --service-network-identifier {sn}", expect: "cli-svc"},
		{args: "get-service-network-service-association --service-network-service-association-identifier {snsa}", expect: "cli-sn"},
		{args: "create-service-network-vpc-association --service-network-identifier {sn} --vpc-identifier vpc-12345678 --security-group-ids sg-12345678", capture: map[string]string{"snva": "id"}},
		{args: "list-service-network-vpc-associations --vpc-identifier vpc-12345678", expect: "{snva}"},
		{args: "update-service-network-vpc-association --service-network-vpc-association-identifier {snva} --security-group-ids sg-87654321", expect: "sg-87654321"},
		{args: "get-service-network-vpc-association --service-network-vpc-association-identifier {snva}", expect: "sg-87654321"},
		{args: "tag-resource --resource-arn {svcArn} --tags team=payments"},
		{args: "list-tags-for-resource --resource-arn {svcArn}", expect: "payments"},
		{args: "untag-resource --resource-arn {svcArn} --tag-keys team"},
		{args: `put-auth-policy --resource-identifier {svc} --policy {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, expect: `"state": "Active"`},
		{args: "get-auth-policy --resource-identifier {svcArn}", expect: "2012-10-17"},
		{args: "delete-auth-policy --resource-identifier {svc}"},
		{args: "create-access-log-subscription --resource-identifier {sn} --destination-arn arn:aws:logs:us-west-2:123456789012:log-group:one", capture: map[string]string{"als": "id"}},
		{args: "list-access-log-subscriptions --resource-identifier {snArn}", expect: "{als}"},
		{args: "update-access-log-subscription --access-log-subscription-identifier {als} --destination-arn arn:aws:logs:us-west-2:123456789012:log-group:two", expect: "log-group:two"},
		{args: "get-access-log-subscription --access-log-subscription-identifier {als}", expect: "log-group:two"},
		{args: "delete-access-log-subscription --access-log-subscription-identifier {als}"},
		{args: "deregister-targets --target-group-identifier {tg} --targets id=10.244.0.1,port=8080", expect: "10.244.0.1"},
		{args: "delete-rule --service-identifier {svc} --listener-identifier {lis} --rule-identifier {rule}"},
		{args: "delete-listener --service-identifier {svc} --listener-identifier {lis}"},
		{args: "delete-service-network-service-association --service-network-service-association-identifier {snsa}", expect: "DELETE_IN_PROGRESS"},
		{args: "delete-service-network-vpc-association --service-network-vpc-association-identifier {snva}", expect: "DELETE_IN_PROGRESS"},
		{args: "delete-service --service-identifier {svc}", expect: "DELETE_IN_PROGRESS"},
		{args: "delete-target-group --target-group-identifier {tg}", expect: "DELETE_IN_PROGRESS"},
		{args: "delete-service-network --service-network-identifier {sn}"},
		{args: "list-services", expect: `"items": []`},
	})
}

// cliStep is one `aws vpc-lattice` call; its args may use {name} for a value an earlier step
// captured.
type cliStep struct {
	args    string
	capture map[string]string // variable -> member of the answer, nested members joined by "."
	expect  string            // substring of the answer
}

// runCLI runs the steps against endpoint, capturing into vars.
func runCLI(t *testing.T, aws, endpoint string, vars map[string]string, steps []cliStep) {
	t.Helper()
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, st := range steps {
		args := append([]string{"vpc-lattice"}, strings.Fields(expand(st.args))...)
		args = append(args, "--endpoint-url", endpoint, "--region", "us-west-2", "--output", "json")
		cx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(cx, aws, args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if want := expand(st.expect); !strings.Contains(string(out), want) {
			t.Errorf("aws %s: answer lacks %q:\n%s", st.args, want, out)
		}
		if len(st.capture) > 0 {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: %v\n%s", st.args, err, out)
			}
			for name, member := range st.capture {
				var v any = m
				for part := range strings.SplitSeq(member, ".") {
					obj, _ := v.(map[string]any)
					v = obj[part]
				}
				if s, _ := v.(string); s != "" {
					vars[name] = s
					continue
				}
				t.Fatalf("aws %s: no %s in answer:\n%s", st.args, member, out)
			}
		}
	}
}

// TestLocalChild is not a test: TestStateFileSurvivesKill runs the test binary again with
// LOCAL_CHILD_ARGS set, so that it becomes `lattice-gateway local` in a process it can kill.
func TestLocalChild(t *testing.T) {
	args := os.Getenv("LOCAL_CHILD_ARGS")
	if args == "" {
		t.Skip("helper process for TestStateFileSurvivesKill")
	}
	root := newRootCmd()
	root.SetArgs(strings.Fields(args))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
}

// TestStateFileSurvivesKill kills `lattice-gateway local` with SIGKILL while clients create
// services, restarts it on the same state file, and checks that every create that was
// answered survived and that the file is never torn.
func TestStateFileSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	file := filepath.Join(t.TempDir(), "state")
	dataDir := t.TempDir()
	run := func() (*harness.Process, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLocalChild$")
		cmd.Env = append(os.Environ(), "LOCAL_CHILD_ARGS=local --api-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --state-file "+file+
			" --dns-addr 127.0.0.1:0 --data-dir "+dataDir)
		p := harness.StartProcess(t, cmd)
		m, _ := p.WaitOutput(`API on (http://127\.0\.0\.1:\d+)`, 0, time.Minute)
		return p, m[1]
	}
	client := func(url string) *vpclattice.Client {
		return vpclattice.New(vpclattice.Options{Region: "us-west-2", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	}

	child, url := run()
	c := client(url)
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := c.CreateService(context.Background(), &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("kill-w%d-%d", w, i))})
				if err != nil {
					return // the server was killed
				}
				mu.Lock()
				acked = append(acked, *out.Id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	child.Kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no create was answered before the kill")
	}

	_, url = run()
	c = client(url)
	have := map[string]bool{}
	p := vpclattice.NewListServicesPaginator(c, &vpclattice.ListServicesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range page.Items {
			have[*svc.Id] = true
		}
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("service %s was answered but lost in the kill", id)
		}
	}
	t.Logf("%d creates answered before SIGKILL, all present after restart", len(acked))
}
