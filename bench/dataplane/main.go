// Command dataplane-bench runs the processes of bench/dataplane/run.sh:
//
//	backends ADDR...   two or more HTTP/1.1 backends answering a fixed 64-byte body
//	lattice  TG1 TG2   Local Lattice (API + store + data plane) with one service whose HTTP
//	                   listener splits 50/50 between a target group holding TG1 and one holding
//	                   TG2, configured through the vpclattice SDK; prints "READY <addr> <host>"
//
// Both run until interrupted. With CPUPROFILE=FILE, lattice writes a CPU profile of the data
// plane process to FILE when it stops.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: dataplane-bench backends ADDR... | lattice DATAPLANE_IP TARGET1 TARGET2")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "backends":
		err = backends(ctx, os.Args[2:])
	case "lattice":
		err = lattice(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var body = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n")

func backends(ctx context.Context, addrs []string) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("backend %s: %w", a, err)
		}
		go func() { _ = http.Serve(ln, h) }()
	}
	fmt.Println("READY")
	<-ctx.Done()
	return nil
}

func lattice(ctx context.Context, args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("lattice needs DATAPLANE_IP TARGET1 TARGET2")
	}
	if path := os.Getenv("CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "dataplane-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o := api.DefaultOptions()
	o.APIAddr, o.AdminAddr = "", ""
	ll, err := locallattice.Start(ctx, locallattice.Options{API: o, DataPlane: &dataplane.Options{DNSAddr: args[0] + ":0",
		DataPlaneAddr: args[0], ListenerPortOffset: 8000, DataDir: dir}})
	if err != nil {
		return err
	}
	defer ll.Close()
	c := ll.NewClient()
	svc, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("bench")})
	if err != nil {
		return fmt.Errorf("create service: %w", err)
	}
	var weighted []types.WeightedTargetGroup
	for i, target := range args[1:] {
		host, port, err := net.SplitHostPort(target)
		if err != nil {
			return err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return err
		}
		tg, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("bench-%d", i)),
			Type: types.TargetGroupTypeIp, Config: &types.TargetGroupConfig{Port: aws.Int32(int32(p)),
				Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}})
		if err != nil {
			return fmt.Errorf("create target group: %w", err)
		}
		if _, err := c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(host), Port: aws.Int32(int32(p))}}}); err != nil {
			return fmt.Errorf("register target: %w", err)
		}
		weighted = append(weighted, types.WeightedTargetGroup{TargetGroupIdentifier: tg.Id, Weight: aws.Int32(50)})
	}
	if _, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80),
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: weighted}}}); err != nil {
		return fmt.Errorf("create listener: %w", err)
	}
	addr, ok := ll.DataPlane.ListenerAddr(80)
	if !ok {
		return fmt.Errorf("listener port 80 is not served")
	}
	fmt.Println("READY", addr, aws.ToString(svc.DnsEntry.DomainName))
	<-ctx.Done()
	return nil
}
