package model

import (
	"reflect"
	"testing"
)

func TestPolicyTargets(t *testing.T) {
	tgp := PolicyKey{Kind: KindTargetGroupPolicy, Namespace: "default", Name: "hc"}
	vap := PolicyKey{Kind: KindVpcAssociationPolicy, Namespace: "default", Name: "sg"}
	alp := PolicyKey{Kind: KindAccessLogPolicy, Namespace: "default", Name: "logs"}
	iap := PolicyKey{Kind: KindIAMAuthPolicy, Namespace: "default", Name: "auth"}
	gw := GatewayKey{Namespace: "default", Name: "my-hotel"}
	rates := RouteKey{Kind: KindHTTPRoute, Namespace: "default", Name: "rates"}
	inventory := RouteKey{Kind: KindHTTPRoute, Namespace: "default", Name: "inventory"}
	m := Model{
		ServiceNetworks: []ServiceNetwork{{Name: "my-hotel", Gateway: gw, VPCAssociationPolicy: &vap,
			AccessLogSubscriptions: []AccessLogSubscription{{DestinationARN: "arn:aws:s3:::b", Policy: alp}}}},
		Services: []Service{
			{Name: "inventory-default", Route: inventory, TargetGroups: []TargetGroup{{Name: "a", Policy: &tgp}, {Name: "b", Policy: &tgp}}},
			{Name: "rates-default", Route: rates, TargetGroups: []TargetGroup{{Name: "c", Policy: &tgp}, {Name: "d"}},
				Auth: &AuthPolicy{AuthType: AuthTypeIAM, Document: "{}", Policy: iap}},
		},
	}
	want := map[PolicyKey]PolicyTargets{
		tgp: {Routes: []RouteKey{inventory, rates}},
		vap: {Gateways: []GatewayKey{gw}},
		alp: {Gateways: []GatewayKey{gw}},
		iap: {Routes: []RouteKey{rates}},
	}
	if got := m.PolicyTargets(); !reflect.DeepEqual(got, want) {
		t.Errorf("PolicyTargets() = %v, want %v", got, want)
	}
}
