package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
)

// TestErrors checks that each error reaches the SDK as its typed Go error with its members.
func TestErrors(t *testing.T) {
	srv, c := start(t, func(o *api.Options) { o.Quotas.ListenersPerService = 1 })
	cx := ctx(t)
	f := newFixture(t, c, "errs")
	must(c.CreateServiceNetworkServiceAssociation(cx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceIdentifier: f.svc.Id, ServiceNetworkIdentifier: f.sn.Id}))
	must(c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: f.sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}))
	noRetry := func(o *vpclattice.Options) { o.RetryMaxAttempts = 1 }

	type check func(t *testing.T, err error)
	validation := func(field string) check {
		return func(t *testing.T, err error) {
			var e *types.ValidationException
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want ValidationException", err, err)
			}
			if e.Reason != types.ValidationExceptionReasonFieldValidationFailed || len(e.FieldList) == 0 || *e.FieldList[0].Name != field {
				t.Errorf("reason %q fields %+v, want %s", e.Reason, e.FieldList, field)
			}
		}
	}
	conflictOn := func(resourceType string) check {
		return func(t *testing.T, err error) {
			var e *types.ConflictException
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want ConflictException", err, err)
			}
			if *e.ResourceType != resourceType || *e.ResourceId == "" {
				t.Errorf("conflict on %s %s, want %s", *e.ResourceType, *e.ResourceId, resourceType)
			}
		}
	}
	cases := []struct {
		name  string
		call  func(context.Context) error
		check check
	}{
		{"name pattern", func(cx context.Context) error {
			_, err := c.CreateServiceNetwork(cx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("Bad--Name")})
			return err
		}, validation("name")},
		{"reserved prefix", func(cx context.Context) error {
			_, err := c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("svc-foo")})
			return err
		}, validation("name")},
		{"service name too long", func(cx context.Context) error {
			_, err := c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String(strings.Repeat("a", 41))})
			return err
		}, validation("name")},
		{"weight out of range", func(cx context.Context) error {
			_, err := c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("weights"), Priority: aws.Int32(1), Match: pathRule("/x"),
				Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
					{TargetGroupIdentifier: f.tg.Id, Weight: aws.Int32(1000)}}}}})
			return err
		}, validation("action.forward.targetGroups[0].weight")},
		{"path must start with slash", func(cx context.Context) error {
			_, err := c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("path"), Priority: aws.Int32(1), Match: pathRule("x"), Action: forward(f.tg.Id)})
			return err
		}, validation("match.httpMatch.pathMatch.match")},
		{"priority range", func(cx context.Context) error {
			_, err := c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("prio"), Priority: aws.Int32(2001), Match: pathRule("/x"), Action: forward(f.tg.Id)})
			return err
		}, validation("priority")},
		{"health check interval", func(cx context.Context) error {
			_, err := c.UpdateTargetGroup(cx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: f.tg.Id,
				HealthCheck: &types.HealthCheckConfig{HealthCheckIntervalSeconds: aws.Int32(3)}})
			return err
		}, validation("healthCheck.healthCheckIntervalSeconds")},
		{"malformed identifier", func(cx context.Context) error {
			_, err := c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String("svc-nope")})
			return err
		}, validation("serviceIdentifier")},
		{"not found", func(cx context.Context) error {
			_, err := c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String("svc-00000000000000000")})
			return err
		}, func(t *testing.T, err error) {
			var e *types.ResourceNotFoundException
			if !errors.As(err, &e) || *e.ResourceId != "svc-00000000000000000" || *e.ResourceType != "SERVICE" {
				t.Fatalf("got %T %v", err, err)
			}
		}},
		{"listener of another service", func(cx context.Context) error {
			other := must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("other")}))
			_, err := c.GetListener(cx, &vpclattice.GetListenerInput{ServiceIdentifier: other.Id, ListenerIdentifier: f.listener.Id})
			return err
		}, func(t *testing.T, err error) {
			var e *types.ResourceNotFoundException
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v", err, err)
			}
		}},
		{"duplicate name", func(cx context.Context) error {
			_, err := c.CreateServiceNetwork(cx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("errs-sn")})
			return err
		}, conflictOn("SERVICE_NETWORK")},
		{"duplicate custom domain name", func(cx context.Context) error {
			must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("dom-a"), CustomDomainName: aws.String("inventory.example.com")}))
			_, err := c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("dom-b"), CustomDomainName: aws.String("Inventory.example.com")})
			return err
		}, conflictOn("SERVICE")},
		{"delete service network in use", func(cx context.Context) error {
			_, err := c.DeleteServiceNetwork(cx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: f.sn.Id})
			return err
		}, conflictOn("SERVICE_NETWORK")},
		{"delete associated service", func(cx context.Context) error {
			_, err := c.DeleteService(cx, &vpclattice.DeleteServiceInput{ServiceIdentifier: f.svc.Arn})
			return err
		}, conflictOn("SERVICE")},
		{"delete target group in use", func(cx context.Context) error {
			_, err := c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: f.tg.Id})
			return err
		}, conflictOn("TARGET_GROUP")},
		{"association already exists", func(cx context.Context) error {
			_, err := c.CreateServiceNetworkServiceAssociation(cx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceIdentifier: f.svc.Id, ServiceNetworkIdentifier: f.sn.Arn})
			return err
		}, conflictOn("SERVICE_NETWORK_SERVICE_ASSOCIATION")},
		{"one service network per VPC", func(cx context.Context) error {
			sn2 := must(c.CreateServiceNetwork(cx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("second")}))
			_, err := c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
				ServiceNetworkIdentifier: sn2.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0")})
			return err
		}, conflictOn("SERVICE_NETWORK_VPC_ASSOCIATION")},
		{"priority clash", func(cx context.Context) error {
			must(c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("first"), Priority: aws.Int32(7), Match: pathRule("/a"), Action: forward(f.tg.Id)}))
			_, err := c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("second"), Priority: aws.Int32(7), Match: pathRule("/b"), Action: forward(f.tg.Id)})
			return err
		}, conflictOn("RULE")},
		{"client token reused with other parameters", func(cx context.Context) error {
			must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("tok-a"), Type: types.TargetGroupTypeLambda, ClientToken: aws.String("tok")}))
			_, err := c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("tok-b"), Type: types.TargetGroupTypeLambda, ClientToken: aws.String("tok")})
			return err
		}, conflictOn("IDEMPOTENCY_TOKEN")},
		{"listener quota", func(cx context.Context) error {
			_, err := c.CreateListener(cx, &vpclattice.CreateListenerInput{ServiceIdentifier: f.svc.Id, Name: aws.String("https"),
				Protocol: types.ListenerProtocolHttps, DefaultAction: forward(f.tg.Id)})
			return err
		}, func(t *testing.T, err error) {
			var e *types.ServiceQuotaExceededException
			if !errors.As(err, &e) || *e.QuotaCode != "L-D64E952E" || *e.ServiceCode != "vpc-lattice" || *e.ResourceType != "LISTENER" {
				t.Fatalf("got %T %v", err, err)
			}
		}},
		{"throttled", func(cx context.Context) error {
			if err := srv.SetFaults(api.Faults{TPSLimit: 1}); err != nil {
				return err
			}
			defer func() { _ = srv.SetFaults(api.Faults{}) }()
			var err error
			for range 3 {
				if _, err = c.ListServices(cx, &vpclattice.ListServicesInput{}, noRetry); err != nil {
					break
				}
			}
			return err
		}, func(t *testing.T, err error) {
			var e *types.ThrottlingException
			if !errors.As(err, &e) || e.RetryAfterSeconds == nil || *e.RetryAfterSeconds < 1 {
				t.Fatalf("got %T %v", err, err)
			}
		}},
		{"injected internal error", func(cx context.Context) error {
			if err := srv.SetFaults(api.Faults{ErrorRate: 1}); err != nil {
				return err
			}
			defer func() { _ = srv.SetFaults(api.Faults{}) }()
			_, err := c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: f.svc.Id}, noRetry)
			return err
		}, func(t *testing.T, err error) {
			var e *types.InternalServerException
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v", err, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, tc.call(ctx(t)))
		})
	}
}

// TestAuthorization checks that requests without a SigV4 Authorization header, or signed for
// another region, get 403 as on AWS.
func TestAuthorization(t *testing.T) {
	srv, _ := start(t, nil)
	cases := []struct {
		auth     string
		wantCode int
		wantType string
	}{
		{"", http.StatusForbidden, "AccessDeniedException"},
		{"Basic Zm9vOmJhcg==", http.StatusForbidden, "AccessDeniedException"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/vpc-lattice/aws4_request, Signature=0", http.StatusForbidden, "InvalidSignatureException"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/vpc-lattice/aws4_request, Signature=0", http.StatusOK, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/services", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.wantCode || resp.Header.Get("X-Amzn-ErrorType") != tc.wantType {
			t.Errorf("Authorization %q: %d %s", tc.auth, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
}
