package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestIAMAuthWithCLIAndCurl follows docs/iam-auth.md: `lattice-gateway local` with a principals
// file, a service made AWS_IAM with an auth policy through the `aws vpc-lattice` CLI, and
// requests signed by `curl --aws-sigv4`.
func TestIAMAuthWithCLIAndCurl(t *testing.T) {
	aws, errAWS := exec.LookPath("aws")
	curl, errCurl := exec.LookPath("curl")
	if errAWS != nil || errCurl != nil {
		t.Skip("needs the aws CLI and curl")
	}
	if testing.Short() {
		t.Skip("the CLI takes about a second per call")
	}
	backend, err := net.Listen("tcp", "127.0.54.40:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Amzn-Lattice-Identity"))
	})}
	go func() { _ = srv.Serve(backend) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := strconv.Itoa(backend.Addr().(*net.TCPAddr).Port)

	const key, secret, arn = "AKIACLITEST000000001", "cli-test-secret", "arn:aws:iam::123456789012:role/cli"
	principals := filepath.Join(t.TempDir(), "principals.yaml")
	if err := os.WriteFile(principals, []byte("principals:\n- {accessKeyId: "+key+", secretAccessKey: "+secret+", arn: \""+arn+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint := startLocal(t, "--iam-principals-file", principals, "--dataplane-addr", "127.0.54.41", "--listener-port-offset", "20000")
	vars := map[string]string{}
	runCLI(t, aws, endpoint, vars, []cliStep{
		{args: "create-service --name iam-cli --auth-type AWS_IAM", capture: map[string]string{"svc": "id", "host": "dnsEntry.domainName"}, expect: "AWS_IAM"},
		{args: `create-target-group --name iam-cli --type IP --config {"port":` + port + `,"protocol":"HTTP","vpcIdentifier":"vpc-12345678"}`, capture: map[string]string{"tg": "id"}},
		{args: "register-targets --target-group-identifier {tg} --targets id=127.0.54.40,port=" + port},
		{args: `create-listener --service-identifier {svc} --name http --protocol HTTP --port 80 --default-action {"forward":{"targetGroups":[{"targetGroupIdentifier":"{tg}"}]}}`},
		{args: `put-auth-policy --resource-identifier {svc} --policy {"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + arn + `"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`, expect: `"state": "Active"`},
	})
	host := vars["host"]
	call := func(sign bool) (int, string) {
		t.Helper()
		args := []string{"-s", "-w", "\n%{http_code}", "--resolve", host + ":20080:127.0.54.41"}
		if sign {
			args = append(args, "--aws-sigv4", "aws:amz:us-west-2:vpc-lattice-svcs", "--user", key+":"+secret)
		}
		out, err := exec.Command(curl, append(args, "http://"+host+":20080/")...).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		i := strings.LastIndexByte(string(out), '\n')
		n, _ := strconv.Atoi(string(out[i+1:]))
		return n, string(out[:max(i, 0)])
	}
	if code, body := call(true); code != 200 || body != "Principal="+arn {
		t.Errorf("signed: %d %q, want 200 and the identity header", code, body)
	}
	if code, _ := call(false); code != 403 {
		t.Errorf("unsigned: %d, want 403", code)
	}
	runCLI(t, aws, endpoint, vars, []cliStep{{args: "update-service --service-identifier {svc} --auth-type NONE", expect: `"authType": "NONE"`}})
	if code, body := call(false); code != 200 || body != "" {
		t.Errorf("unsigned after NONE: %d %q, want 200 without identity", code, body)
	}
}
