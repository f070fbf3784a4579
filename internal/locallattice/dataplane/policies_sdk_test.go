package dataplane

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// TestPoliciesThroughTheSDK configures what the four policy CRDs turn into with the real
// vpclattice client, and checks that the data plane honours each: auth types and auth policies,
// an access-log subscription, security groups on the VPC association, and a health check on its
// own port, path and matcher whose failures show in ListTargets with a reason code.
func TestPoliciesThroughTheSDK(t *testing.T) {
	t.Parallel()
	traffic := startBackend(t, "payments", "127.0.54.20:8090")
	health := startBackend(t, "payments-health", "127.0.54.20:8091")
	lc, dp := startWithAPI(t, "127.0.54.2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sn := must(lc.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("secure"), AuthType: types.AuthTypeAwsIam}))
	snva := must(lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0"), SecurityGroupIds: []string{"sg-0123456789abcdef0"}}))
	updated := must(lc.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Id, SecurityGroupIds: []string{"sg-0123456789abcdef1", "sg-0123456789abcdef2"}}))
	gotVA := must(lc.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Arn}))
	if len(updated.SecurityGroupIds) != 2 || len(gotVA.SecurityGroupIds) != 2 || gotVA.SecurityGroupIds[1] != "sg-0123456789abcdef2" {
		t.Errorf("security groups: update %v, get %v", updated.SecurityGroupIds, gotVA.SecurityGroupIds)
	}

	svc := must(lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("payments"), AuthType: types.AuthTypeAwsIam}))
	must(lc.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id}))
	tg := must(lc.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("payments"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0"),
			HealthCheck: &types.HealthCheckConfig{Port: aws.Int32(8091), Path: aws.String("/health"), HealthyThresholdCount: aws.Int32(2),
				UnhealthyThresholdCount: aws.Int32(2), Matcher: &types.MatcherMemberHttpCode{Value: "200-204"}}}}))
	must(lc.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: []types.Target{{Id: aws.String("127.0.54.20")}}}))
	must(lc.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http"), Protocol: types.ListenerProtocolHttp,
		Port: aws.Int32(80), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}}))
	logARN := "arn:aws:logs:us-west-2:123456789012:log-group:payments"
	must(lc.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: svc.Arn, DestinationArn: aws.String(logARN)}))

	target := func() types.TargetSummary {
		out := must(lc.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id}))
		if len(out.Items) != 1 {
			t.Fatalf("ListTargets: %d items", len(out.Items))
		}
		return out.Items[0]
	}
	eventually(t, "target HEALTHY", func() bool { return target().Status == types.TargetStatusHealthy })

	me := dp.Principal()
	base := clientFor(dp, nil)
	signed := &http.Client{Transport: &signingClient{base: base.Transport, key: me.AccessKeyID, secret: me.SecretAccessKey, now: time.Now}}
	url := "http://" + aws.ToString(svc.DnsEntry.DomainName) + "/pay"
	status := func(c *http.Client) int {
		code, _ := get(t, c, mustRequest(t, "GET", url))
		return code
	}
	if got := status(signed); got != http.StatusForbidden {
		t.Errorf("AWS_IAM without policies: %d, want 403", got)
	}
	policy := allowPolicy(me.ARN)
	put := must(lc.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: svc.Id, Policy: aws.String(policy)}))
	if put.State != types.AuthPolicyStateActive {
		t.Errorf("auth policy state %s", put.State)
	}
	if got := status(signed); got != http.StatusForbidden {
		t.Errorf("service policy only (the network has none): %d, want 403", got)
	}
	must(lc.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: sn.Arn, Policy: aws.String(allowAnyone)}))
	if got, anon := status(signed), status(base); got != http.StatusOK || anon != http.StatusForbidden {
		t.Errorf("both policies: signed %d, unsigned %d; want 200, 403", got, anon)
	}

	// IAMAuthPolicy deletion order: NONE first, then the policy goes.
	must(lc.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: svc.Id, AuthType: types.AuthTypeNone}))
	must(lc.DeleteAuthPolicy(ctx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: svc.Id}))
	must(lc.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: sn.Id, AuthType: types.AuthTypeNone}))
	if got := status(base); got != http.StatusOK {
		t.Errorf("auth type NONE everywhere: %d, want 200", got)
	}

	// The health check runs on its own port: the traffic port stays fine, the target does not.
	health.sick.Store(true)
	eventually(t, "target UNHEALTHY", func() bool { return target().Status == types.TargetStatusUnhealthy })
	if r := aws.ToString(target().ReasonCode); r != "HealthCheckResponseMismatch" {
		t.Errorf("reason code %q", r)
	}
	health.sick.Store(false)
	eventually(t, "target HEALTHY again", func() bool { return target().Status == types.TargetStatusHealthy })
	// UpdateTargetGroup changes the check in place: a path the backend does not serve with a
	// 2xx, and a matcher that then fails.
	must(lc.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: tg.Id, HealthCheck: &types.HealthCheckConfig{
		Port: aws.Int32(8090), Path: aws.String("/pay"), Matcher: &types.MatcherMemberHttpCode{Value: "201"}}}))
	eventually(t, "target UNHEALTHY on the new matcher", func() bool { return target().Status == types.TargetStatusUnhealthy })
	if traffic.hits.Load() == 0 {
		t.Error("the traffic backend got no request")
	}

	var users []string
	for _, e := range readAccessLog(t, AccessLogPath(dp.opts.DataDir, logARN)) {
		users = append(users, e.ResolvedUser+"|"+e.AuthDeniedReason)
	}
	want := []string{
		me.ARN + "|no network-based policy allows the vpc-lattice-svcs:Invoke action",
		me.ARN + "|no network-based policy allows the vpc-lattice-svcs:Invoke action",
		me.ARN + "|",
		"Anonymous|no service-based policy allows the vpc-lattice-svcs:Invoke action",
		"|",
	}
	if len(users) != len(want) {
		t.Fatalf("access log: %q, want %q", users, want)
	}
	for i := range want {
		if users[i] != want[i] {
			t.Errorf("access log entry %d: %q, want %q", i, users[i], want[i])
		}
	}
}
