package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// TestOperations checks the answer shape of the operations TestControllerLifecycle doesn't
// reach, each through the real SDK.
func TestOperations(t *testing.T) {
	_, c := start(t, nil)
	f := newFixture(t, c, "ops")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	cases := []struct {
		name string
		run  func(cx context.Context) error
	}{
		{"UpdateService and GetService", func(cx context.Context) error {
			must(c.UpdateService(cx, &vpclattice.UpdateServiceInput{ServiceIdentifier: f.svc.Arn, AuthType: types.AuthTypeAwsIam}))
			got := must(c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: f.svc.Id}))
			if got.AuthType != types.AuthTypeAwsIam || got.CreatedAt == nil || !got.LastUpdatedAt.After(*got.CreatedAt) && !got.LastUpdatedAt.Equal(*got.CreatedAt) {
				return fmt.Errorf("service %+v", got)
			}
			return nil
		}},
		{"UpdateServiceNetwork", func(cx context.Context) error {
			got := must(c.UpdateServiceNetwork(cx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: f.sn.Arn, AuthType: types.AuthTypeAwsIam}))
			if got.AuthType != types.AuthTypeAwsIam || *got.Id != *f.sn.Id {
				return fmt.Errorf("service network %+v", got)
			}
			return nil
		}},
		{"GetListener, ListListeners, UpdateListener", func(cx context.Context) error {
			got := must(c.GetListener(cx, &vpclattice.GetListenerInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Arn}))
			if *got.ServiceId != *f.svc.Id || got.Protocol != types.ListenerProtocolHttp || got.CreatedAt == nil {
				return fmt.Errorf("listener %+v", got)
			}
			list := must(c.ListListeners(cx, &vpclattice.ListListenersInput{ServiceIdentifier: f.svc.Arn}))
			if len(list.Items) != 1 || *list.Items[0].Port != 80 {
				return fmt.Errorf("listeners %+v", list.Items)
			}
			upd := must(c.UpdateListener(cx, &vpclattice.UpdateListenerInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}}))
			if _, ok := upd.DefaultAction.(*types.RuleActionMemberFixedResponse); !ok {
				return fmt.Errorf("default action %T", upd.DefaultAction)
			}
			_, err := c.UpdateListener(cx, &vpclattice.UpdateListenerInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id, DefaultAction: forward(f.tg.Id)})
			return err
		}},
		{"UpdateRule with header matches", func(cx context.Context) error {
			r := must(c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("hdr"), Priority: aws.Int32(10), Match: pathRule("/h"), Action: forward(f.tg.Id)}))
			match := &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("POST"), HeaderMatches: []types.HeaderMatch{
				{Name: aws.String("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "canary"}, CaseSensitive: aws.Bool(true)}}}}
			upd := must(c.UpdateRule(cx, &vpclattice.UpdateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				RuleIdentifier: r.Arn, Match: match, Priority: aws.Int32(11)}))
			hm := upd.Match.(*types.RuleMatchMemberHttpMatch).Value
			if *upd.Priority != 11 || *hm.Method != "POST" || !*hm.HeaderMatches[0].CaseSensitive || hm.PathMatch != nil {
				return fmt.Errorf("rule %+v", upd)
			}
			_, err := c.UpdateRule(cx, &vpclattice.UpdateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				RuleIdentifier: r.Id, Priority: aws.Int32(10)})
			return err
		}},
		{"ListTargetGroups filters", func(cx context.Context) error {
			must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("ops-lambda"), Type: types.TargetGroupTypeLambda}))
			byType := must(c.ListTargetGroups(cx, &vpclattice.ListTargetGroupsInput{TargetGroupType: types.TargetGroupTypeLambda}))
			byVPC := must(c.ListTargetGroups(cx, &vpclattice.ListTargetGroupsInput{VpcIdentifier: aws.String("vpc-0123456789abcdef0")}))
			if len(byType.Items) != 1 || len(byVPC.Items) != 1 || *byVPC.Items[0].Port != 8080 || len(byVPC.Items[0].ServiceArns) != 1 {
				return fmt.Errorf("by type %+v, by VPC %+v", byType.Items, byVPC.Items)
			}
			return nil
		}},
		{"UpdateTargetGroup health check", func(cx context.Context) error {
			got := must(c.UpdateTargetGroup(cx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: f.tg.Arn,
				HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(true), Path: aws.String("/healthz"),
					Matcher: &types.MatcherMemberHttpCode{Value: "200-299"}}}))
			if *got.Config.HealthCheck.Path != "/healthz" || got.Config.HealthCheck.Matcher.(*types.MatcherMemberHttpCode).Value != "200-299" {
				return fmt.Errorf("config %+v", got.Config)
			}
			return nil
		}},
		{"auth policy", func(cx context.Context) error {
			put := must(c.PutAuthPolicy(cx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: f.svc.Arn, Policy: aws.String(policy)}))
			if put.State != types.AuthPolicyStateActive {
				return fmt.Errorf("state %s with authType AWS_IAM", put.State)
			}
			snPut := must(c.PutAuthPolicy(cx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: f.sn.Id, Policy: aws.String(policy)}))
			got := must(c.GetAuthPolicy(cx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: f.svc.Id}))
			if *got.Policy != policy || got.CreatedAt == nil || snPut.Policy == nil {
				return fmt.Errorf("policy %+v", got)
			}
			must(c.DeleteAuthPolicy(cx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: f.svc.Id}))
			_, err := c.GetAuthPolicy(cx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: f.svc.Id})
			var nf *types.ResourceNotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("after delete: %v", err)
			}
			return nil
		}},
		{"resource policy", func(cx context.Context) error {
			must(c.PutResourcePolicy(cx, &vpclattice.PutResourcePolicyInput{ResourceArn: f.sn.Arn, Policy: aws.String(policy)}))
			got := must(c.GetResourcePolicy(cx, &vpclattice.GetResourcePolicyInput{ResourceArn: f.sn.Arn}))
			if *got.Policy != policy {
				return fmt.Errorf("policy %q", *got.Policy)
			}
			must(c.DeleteResourcePolicy(cx, &vpclattice.DeleteResourcePolicyInput{ResourceArn: f.sn.Arn}))
			return nil
		}},
		{"access log subscriptions", func(cx context.Context) error {
			als := must(c.CreateAccessLogSubscription(cx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: f.svc.Arn,
				DestinationArn: aws.String("arn:aws:s3:::access-logs")}))
			if *als.ResourceId != *f.svc.Id || *als.ResourceArn != *f.svc.Arn {
				return fmt.Errorf("subscription %+v", als)
			}
			list := must(c.ListAccessLogSubscriptions(cx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: f.svc.Id}))
			upd := must(c.UpdateAccessLogSubscription(cx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: als.Arn,
				DestinationArn: aws.String("arn:aws:s3:::other-bucket")}))
			got := must(c.GetAccessLogSubscription(cx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: als.Id}))
			if len(list.Items) != 1 || *upd.DestinationArn != "arn:aws:s3:::other-bucket" || *got.DestinationArn != *upd.DestinationArn {
				return fmt.Errorf("list %+v get %+v", list.Items, got)
			}
			must(c.DeleteAccessLogSubscription(cx, &vpclattice.DeleteAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: als.Id}))
			return nil
		}},
		{"association filters", func(cx context.Context) error {
			snsa := must(c.CreateServiceNetworkServiceAssociation(cx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceIdentifier: f.svc.Id, ServiceNetworkIdentifier: f.sn.Id}))
			bySvc := must(c.ListServiceNetworkServiceAssociations(cx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: f.svc.Arn}))
			got := must(c.GetServiceNetworkServiceAssociation(cx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: snsa.Arn}))
			if len(bySvc.Items) != 1 || *got.ServiceName != "ops-svc" || *got.ServiceNetworkName != "ops-sn" || *got.CreatedBy != "123456789012" {
				return fmt.Errorf("list %+v get %+v", bySvc.Items, got)
			}
			snva := must(c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
				ServiceNetworkIdentifier: f.sn.Id, VpcIdentifier: aws.String("vpc-11111111")}))
			byVPC := must(c.ListServiceNetworkVpcAssociations(cx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String("vpc-11111111")}))
			other := must(c.ListServiceNetworkVpcAssociations(cx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String("vpc-22222222")}))
			if len(byVPC.Items) != 1 || *byVPC.Items[0].Id != *snva.Id || len(other.Items) != 0 {
				return fmt.Errorf("by VPC %+v other %+v", byVPC.Items, other.Items)
			}
			return nil
		}},
		{"unknown request fields are ignored", func(cx context.Context) error {
			_, err := c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("future")}, func(o *vpclattice.Options) {
				o.APIOptions = append(o.APIOptions, addBodyField("idleTimeoutSeconds", "120"))
			})
			if err != nil {
				return err
			}
			// The same middleware with a broken value proves the field really reaches the server.
			_, err = c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("broken")}, func(o *vpclattice.Options) {
				o.APIOptions = append(o.APIOptions, addBodyField("idleTimeoutSeconds", "nope"))
			})
			var v *types.ValidationException
			if !errors.As(err, &v) || v.Reason != types.ValidationExceptionReasonCannotParse {
				return fmt.Errorf("broken body: %v", err)
			}
			return nil
		}},
		{"pagination of targets and rules", func(cx context.Context) error {
			var targets []types.Target
			for i := range 30 {
				targets = append(targets, types.Target{Id: aws.String(fmt.Sprintf("10.244.1.%d", i+1))})
			}
			must(c.RegisterTargets(cx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: f.tg.Id, Targets: targets}))
			n := 0
			p := vpclattice.NewListTargetsPaginator(c, &vpclattice.ListTargetsInput{TargetGroupIdentifier: f.tg.Id, MaxResults: aws.Int32(7)})
			for p.HasMorePages() {
				n += len(must(p.NextPage(cx)).Items)
			}
			rules := 0
			rp := vpclattice.NewListRulesPaginator(c, &vpclattice.ListRulesInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id, MaxResults: aws.Int32(1)})
			for rp.HasMorePages() {
				rules += len(must(rp.NextPage(cx)).Items)
			}
			if n != 30 || rules < 2 {
				return fmt.Errorf("%d targets, %d rules over pages", n, rules)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(ctx(t)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestValidationTable covers request checks that answer ValidationException with a field list.
func TestValidationTable(t *testing.T) {
	_, c := start(t, nil)
	f := newFixture(t, c, "val")
	cases := []struct {
		name  string
		call  func(cx context.Context) error
		field string
	}{
		{"target group without config", func(cx context.Context) error {
			_, err := c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("noconf"), Type: types.TargetGroupTypeIp})
			return err
		}, "config"},
		{"bad VPC id", func(cx context.Context) error {
			_, err := c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("badvpc"), Type: types.TargetGroupTypeIp,
				Config: &types.TargetGroupConfig{Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-1")}})
			return err
		}, "config.vpcIdentifier"},
		{"six header matches", func(cx context.Context) error {
			hm := make([]types.HeaderMatch, 6)
			for i := range hm {
				hm[i] = types.HeaderMatch{Name: aws.String(fmt.Sprintf("h%d", i)), Match: &types.HeaderMatchTypeMemberExact{Value: "v"}}
			}
			_, err := c.CreateRule(cx, &vpclattice.CreateRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				Name: aws.String("hdrs"), Priority: aws.Int32(1), Action: forward(f.tg.Id),
				Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{HeaderMatches: hm}}})
			return err
		}, "match.httpMatch.headerMatches"},
		{"fixed response 302", func(cx context.Context) error {
			_, err := c.UpdateListener(cx, &vpclattice.UpdateListenerInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
				DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(302)}}})
			return err
		}, "defaultAction.fixedResponse.statusCode"},
		{"tag key aws:", func(cx context.Context) error {
			_, err := c.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: f.svc.Arn, Tags: map[string]string{"aws:x": "y"}})
			return err
		}, "tags"},
		{"six security groups", func(cx context.Context) error {
			_, err := c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: f.sn.Id,
				VpcIdentifier: aws.String("vpc-33333333"), SecurityGroupIds: strings.Fields("sg-00000001 sg-00000002 sg-00000003 sg-00000004 sg-00000005 sg-00000006")})
			return err
		}, "securityGroupIds"},
		{"page size 101", func(cx context.Context) error {
			_, err := c.ListServices(cx, &vpclattice.ListServicesInput{MaxResults: aws.Int32(101)})
			return err
		}, "maxResults"},
		{"forged page token", func(cx context.Context) error {
			_, err := c.ListServices(cx, &vpclattice.ListServicesInput{NextToken: aws.String("not base64!")})
			return err
		}, "nextToken"},
		{"auth policy not JSON", func(cx context.Context) error {
			_, err := c.PutAuthPolicy(cx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: f.svc.Id, Policy: aws.String("{")})
			return err
		}, "policy"},
		{"access log destination", func(cx context.Context) error {
			_, err := c.CreateAccessLogSubscription(cx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: f.svc.Id,
				DestinationArn: aws.String("arn:aws:sqs:us-west-2:123456789012:queue")})
			return err
		}, "destinationArn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(ctx(t))
			var v *types.ValidationException
			if !errors.As(err, &v) {
				t.Fatalf("got %T %v, want ValidationException", err, err)
			}
			if len(v.FieldList) == 0 || *v.FieldList[0].Name != tc.field {
				t.Errorf("fields %+v, want %s", v.FieldList, tc.field)
			}
		})
	}
}
