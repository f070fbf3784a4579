package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestPolicies applies one policy of each kind through the controller and checks what it writes
// on them: GEP-713's Accepted reasons, Programmed once Lattice holds what they ask for,
// upstream's finalizers and annotations; a target that appears later, a target moving to another
// controller, and deletion.
func TestPolicies(t *testing.T) {
	e := startEnv(t, "127.0.68.1")
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.policyClient(t)
	apply := func(manifests string) { e.apply(t, manifests) }
	apply(harness.Manifest(t, "hotel-gateway.yaml", nil) + "---\n" + harness.Manifest(t, "rates-route.yaml", nil) + "---\n" +
		harness.Manifest(t, "policies.yaml", nil))

	vap := &v1alpha1.VpcAssociationPolicy{ObjectMeta: objMeta("default", "hotel-vpc")}
	hotelLogs := &v1alpha1.AccessLogPolicy{ObjectMeta: objMeta("default", "hotel-logs")}
	inventoryLogs := &v1alpha1.AccessLogPolicy{ObjectMeta: objMeta("default", "inventory-logs")}
	ratesAuth := &v1alpha1.IAMAuthPolicy{ObjectMeta: objMeta("default", "rates-auth")}
	ratesAuthLater := &v1alpha1.IAMAuthPolicy{ObjectMeta: objMeta("default", "rates-auth-later")}
	parking := &v1alpha1.TargetGroupPolicy{ObjectMeta: objMeta("default", "parking")}

	// policyState waits until the policy's Accepted condition has reason, for its generation,
	// and the policy holds finalizer ("": none of ours).
	policyState := func(t *testing.T, p client.Object, reason, finalizer string) {
		t.Helper()
		conds := func() string { return harness.Describe(p.(v1alpha1.Policy).GetConditions()) }
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			if err := k.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
				return false
			}
			c := harness.Condition(p.(v1alpha1.Policy).GetConditions(), "Accepted")
			ours := slices.ContainsFunc(p.GetFinalizers(), func(f string) bool { return f != "" && policyFinalizers[f] })
			wantOurs := finalizer != ""
			// Pending is the CRD's default, which no controller wrote: it has no generation.
			observed := c != nil && (c.ObservedGeneration == p.GetGeneration() || reason == "Pending")
			return c != nil && c.Reason == reason && observed &&
				ours == wantOurs && (!wantOurs || slices.Contains(p.GetFinalizers(), finalizer))
		}, func() string {
			return fmt.Sprintf("%T %s: finalizers %v, %s", p, p.GetName(), p.GetFinalizers(), conds())
		}))
	}

	t.Run("statuses and finalizers", func(t *testing.T) {
		policyState(t, vap, "Accepted", kubernetes.FinalizerVpcAssociationPolicy)
		policyState(t, hotelLogs, "Accepted", kubernetes.FinalizerAccessLogPolicy)
		policyState(t, ratesAuth, "Accepted", kubernetes.FinalizerIAMAuthPolicy)
		policyState(t, ratesAuthLater, "Conflicted", "")
		policyState(t, inventoryLogs, "TargetNotFound", "")
		policyState(t, parking, "Accepted", "")
		// A TargetGroupPolicy changes the target groups of programmed routes: programmed with them.
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			return k.Get(ctx, client.ObjectKeyFromObject(parking), parking) == nil &&
				harness.IsTrue(parking.Status.Conditions, "Programmed", parking.Generation)
		}, func() string { return harness.Describe(parking.Status.Conditions) }))
		if c := harness.Condition(ratesAuthLater.Status.Conditions, "Accepted"); c.Status != "False" || c.Message == "" {
			t.Errorf("conflicted policy's Accepted = %+v, want False with the winner named", c)
		}

		// The others are programmed once their own Lattice resource exists, and carry upstream's
		// annotations naming it.
		for _, p := range []client.Object{vap, hotelLogs, ratesAuth} {
			harness.Eventually(t, time.Minute, harness.That(func() bool {
				return k.Get(ctx, client.ObjectKeyFromObject(p), p) == nil &&
					harness.IsTrue(p.(v1alpha1.Policy).GetConditions(), "Programmed", p.GetGeneration())
			}, func() string {
				return fmt.Sprintf("%T %s: %s", p, p.GetName(), harness.Describe(p.(v1alpha1.Policy).GetConditions()))
			}))
		}
		snap := e.lattice.Store().Snapshot()
		var assoc, logs, ratesID string
		for _, a := range snap.VPCAssociations {
			assoc = a.ARN
		}
		for _, als := range snap.AccessLogSubscriptions {
			if als.DestinationARN == "arn:aws:s3:::hotel-logs" {
				logs = als.ARN
			}
		}
		for _, svc := range snap.Services {
			if svc.Name == "rates-default" {
				ratesID = svc.ID
				if svc.AuthType != "AWS_IAM" {
					t.Errorf("service rates-default has auth type %q, want AWS_IAM", svc.AuthType)
				}
			}
		}
		for _, c := range []struct {
			obj  client.Object
			want map[string]string
		}{
			{vap, map[string]string{status.AnnotationResourceARN: assoc}},
			{hotelLogs, map[string]string{status.AnnotationAccessLogSubscription: logs, status.AnnotationAccessLogSubscriptionResourceName: "my-hotel"}},
			{ratesAuth, map[string]string{status.AnnotationIAMAuthPolicyResourceID: ratesID,
				status.AnnotationIAMAuthPolicyResourceType: "Service", status.AnnotationIAMAuthPolicyResourceName: "rates-default"}},
		} {
			for key, want := range c.want {
				if got := c.obj.GetAnnotations()[key]; want == "" || got != want {
					t.Errorf("%T %s: annotation %s = %q, want %q", c.obj, c.obj.GetName(), key, got, want)
				}
			}
		}
	})

	t.Run("a target appearing later flips TargetNotFound to Accepted", func(t *testing.T) {
		apply(harness.Manifest(t, "inventory-route.yaml.tmpl", map[string]int{"Ver1": 1, "Ver2": 1}))
		policyState(t, inventoryLogs, "Accepted", kubernetes.FinalizerAccessLogPolicy)
	})

	t.Run("a target moving to another controller: our status cleared, finalizer released", func(t *testing.T) {
		if err := k.Patch(ctx, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "rates")}, client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"parentRefs":[{"name":"someone-elses"}]}}`))); err != nil {
			t.Fatal(err)
		}
		// Cleared, the API server puts back the CRD's default: waiting for a controller.
		policyState(t, ratesAuth, "Pending", "")
		policyState(t, ratesAuthLater, "Pending", "")
	})

	t.Run("deleted policies go; nothing leaks", func(t *testing.T) {
		gw := &gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")}
		rates, inventory := &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "rates")}, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")}
		objs := []client.Object{vap, hotelLogs, inventoryLogs, ratesAuth, ratesAuthLater, parking, rates, inventory, gw}
		for _, obj := range objs {
			if err := k.Delete(ctx, obj); err != nil {
				t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
			}
		}
		for _, obj := range objs {
			harness.Eventually(t, time.Minute, harness.That(func() bool { return apierrors.IsNotFound(k.Get(ctx, client.ObjectKeyFromObject(obj), obj)) },
				func() string {
					return fmt.Sprintf("%T %s still exists with finalizers %v", obj, obj.GetName(), obj.GetFinalizers())
				}))
		}
		e.latticeEmpty(t)
	})
}

var policyFinalizers = map[string]bool{
	kubernetes.FinalizerVpcAssociationPolicy: true, kubernetes.FinalizerAccessLogPolicy: true, kubernetes.FinalizerIAMAuthPolicy: true,
}
