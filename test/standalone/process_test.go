package standalone

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// binary is the lattice-gateway command built once for the package: the tests drive it as a
// user does, signals and exit codes included.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "standalone-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "lattice-gateway")
	build := exec.Command("go", "build", "-o", binary, "github.com/lattice-gateway/lattice-gateway/cmd/lattice-gateway")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lattice-gateway:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// start runs the built lattice-gateway with args.
func start(t testing.TB, args ...string) *harness.Process {
	t.Helper()
	return harness.StartProcess(t, exec.Command(binary, args...))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// latticeClient is the real SDK client pointed at a Local Lattice endpoint.
func latticeClient(endpoint string) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
