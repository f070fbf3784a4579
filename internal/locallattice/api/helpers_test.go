package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

// start runs Local Lattice on a loopback port and returns it with a real SDK client pointed at it.
func start(t testing.TB, mutate func(*api.Options)) (*api.Server, *vpclattice.Client) {
	t.Helper()
	var o api.Options
	if mutate != nil {
		mutate(&o)
	}
	ll := locallatticetest.Start(t, locallattice.Options{API: o})
	return ll.API, ll.Client
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// must unwraps a call that has to succeed; Go can't pass (v, err) along with a *testing.T, so a
// failure panics, which fails the test with the error and its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// fixture is a service network, a service with an HTTP listener forwarding to an IP target group.
type fixture struct {
	sn       *vpclattice.CreateServiceNetworkOutput
	svc      *vpclattice.CreateServiceOutput
	tg       *vpclattice.CreateTargetGroupOutput
	listener *vpclattice.CreateListenerOutput
}

func newFixture(t testing.TB, c *vpclattice.Client, name string) fixture {
	t.Helper()
	cx := ctx(t)
	var f fixture
	f.sn = must(c.CreateServiceNetwork(cx, &vpclattice.CreateServiceNetworkInput{Name: aws.String(name + "-sn")}))
	f.svc = must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String(name + "-svc")}))
	f.tg = must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{
		Name: aws.String(name + "-tg"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0123456789abcdef0")},
	}))
	f.listener = must(c.CreateListener(cx, &vpclattice.CreateListenerInput{
		ServiceIdentifier: f.svc.Id, Name: aws.String("http"), Protocol: types.ListenerProtocolHttp,
		DefaultAction: forward(f.tg.Id),
	}))
	return f
}

func forward(tgs ...*string) types.RuleAction {
	var w []types.WeightedTargetGroup
	for _, tg := range tgs {
		w = append(w, types.WeightedTargetGroup{TargetGroupIdentifier: tg, Weight: aws.Int32(1)})
	}
	return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: w}}
}

func pathRule(prefix string) types.RuleMatch {
	return &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
		PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: prefix}},
	}}
}

// addBodyField inserts a member into the serialised request body, as a newer SDK would send.
func addBodyField(name, rawValue string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("addBodyField", func(cx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			req := in.Request.(*smithyhttp.Request)
			body, err := io.ReadAll(req.GetStream())
			if err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, err
			}
			body = append([]byte(`{"`+name+`":`+rawValue+`,`), bytes.TrimPrefix(body, []byte("{"))...)
			if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, err
			}
			req.ContentLength = int64(len(body))
			in.Request = req
			return next.HandleBuild(cx, in)
		}), middleware.Before)
	}
}
