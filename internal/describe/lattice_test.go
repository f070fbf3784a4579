package describe

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestFetchLatticeFromLocalLattice reads a route's resources through the real SDK client from
// Local Lattice and finds them for the route by tag.
func TestFetchLatticeFromLocalLattice(t *testing.T) {
	c := locallatticetest.Start(t, locallattice.Options{}).Client
	ctx := t.Context()
	check := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sn, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel")})
	check(sn, err)
	check(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}))
	svc, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("custom-name"), Tags: map[string]string{
		model.TagRouteName: "inventory", model.TagRouteNamespace: "default", model.TagRouteType: "http"}})
	check(svc, err)
	check(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id}))
	tg, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("inventory-ver1"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}})
	check(tg, err)
	check(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: []types.Target{{Id: aws.String("10.0.1.11"), Port: aws.Int32(8090)}}}))
	l, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http-80"), Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80),
		DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})
	check(l, err)
	check(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, Name: aws.String("inventory-1"), Priority: aws.Int32(1),
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id, Weight: aws.Int32(100)}}}},
		Match:  &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/"}}}}}))

	lat, err := FetchLattice(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	objs := &Objects{HTTPRoutes: []gwv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Name: "inventory", Namespace: "default"}}}}
	r := Build(Ref{KindHTTPRoute, "default", "inventory"}, objs, lat)
	if len(r.Services) != 1 || r.Services[0].ID != *svc.Id || r.Services[0].Networks[0] != "my-hotel ACTIVE" {
		t.Fatalf("services %+v", r.Services)
	}
	rules := r.Services[0].Listeners[0].Rules
	if len(rules) != 2 || rules[0].Match != "path /*" || rules[0].Action != "forward "+*tg.Id+"=100" || rules[1].Action != "fixed-response 404" {
		t.Errorf("rules %+v", rules)
	}
	if len(r.TargetGroups) != 1 || len(r.TargetGroups[0].Targets) != 1 || r.TargetGroups[0].Targets[0].Status == "" {
		t.Errorf("target groups %+v", r.TargetGroups)
	}
	if len(lat.ServiceNetworks) != 1 || lat.ServiceNetworks[0].VPCs[0] != "vpc-0123456789abcdef0 ACTIVE" {
		t.Errorf("service networks %+v", lat.ServiceNetworks)
	}
}
