package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	latticetypes "github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

const serviceNetworks = `
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceNetwork
metadata:
  name: my-hotel
  annotations:
    application-networking.k8s.aws/tags: team=payments
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceNetwork
metadata:
  name: adopted-sn
`

// TestServiceNetworkResource runs upstream's ServiceNetwork CRD lifecycle against a real API
// server and Local Lattice through the SDK: a missing network is created and tagged as ours, an
// existing untagged one adopted without our ManagedBy tag; deleting the resource is blocked
// (finalizer held, status DeleteBlocked) while a Gateway of its name exists, then deletes the
// network it created, and never the one it adopted.
func TestServiceNetworkResource(t *testing.T) {
	e := startEnv(t, "127.0.81.1")
	ctx := context.Background()
	// Someone else's network, created before the controller and without any tag.
	if _, err := e.client.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("adopted-sn")}); err != nil {
		t.Fatal(err)
	}
	e.startController(t, harness.ControllerOptions{})
	k := e.policyClient(t)
	e.apply(t, serviceNetworks)

	team := &v1alpha1.ServiceNetwork{ObjectMeta: metav1.ObjectMeta{Name: "my-hotel"}}
	adopted := &v1alpha1.ServiceNetwork{ObjectMeta: metav1.ObjectMeta{Name: "adopted-sn"}}
	// programmed waits until the resource's Programmed condition has reason and, when
	// message is not empty, a message containing it.
	programmed := func(t *testing.T, sn *v1alpha1.ServiceNetwork, reason, message string) {
		t.Helper()
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			if err := k.Get(ctx, client.ObjectKeyFromObject(sn), sn); err != nil {
				return false
			}
			c := harness.Condition(sn.Status.Conditions, "Programmed")
			return c != nil && c.Reason == reason && strings.Contains(c.Message, message) &&
				slices.Contains(sn.Finalizers, kubernetes.FinalizerServiceNetwork)
		}, func() string {
			return fmt.Sprintf("ServiceNetwork %s: finalizers %v, %s", sn.Name, sn.Finalizers, harness.Describe(sn.Status.Conditions))
		}))
	}

	t.Run("created and tagged, or adopted without ownership", func(t *testing.T) {
		programmed(t, team, "Programmed", "created by this controller")
		programmed(t, adopted, "Programmed", "adopted")
		for _, c := range []struct {
			sn   *v1alpha1.ServiceNetwork
			want map[string]string
		}{
			{team, map[string]string{model.TagManagedBy: e.owner.ManagedBy(), "team": "payments"}},
			{adopted, map[string]string{}},
		} {
			if c.sn.Status.ServiceNetworkARN == "" || c.sn.Status.ServiceNetworkID == "" {
				t.Errorf("%s: status has no ARN or ID: %+v", c.sn.Name, c.sn.Status)
			}
			tags, err := e.client.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(c.sn.Status.ServiceNetworkARN)})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(tags.Tags) != fmt.Sprint(c.want) {
				t.Errorf("%s: tags %v, want %v", c.sn.Name, tags.Tags, c.want)
			}
		}
	})

	t.Run("tags follow the annotation", func(t *testing.T) {
		if err := k.Patch(ctx, team, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"application-networking.k8s.aws/tags":"env=prod"}}}`))); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint(map[string]string{model.TagManagedBy: e.owner.ManagedBy(), "env": "prod"})
		var got map[string]string
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			tags, err := e.client.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(team.Status.ServiceNetworkARN)})
			if err != nil {
				t.Fatal(err)
			}
			got = tags.Tags
			return fmt.Sprint(got) == want
		}, func() string { return fmt.Sprintf("tags %v, want %s", got, want) }))
	})

	t.Run("deletion blocked while a Gateway of that name exists", func(t *testing.T) {
		e.apply(t, harness.Manifest(t, "hotel-gateway.yaml", nil))
		gw := &gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")}
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			return k.Get(ctx, client.ObjectKeyFromObject(gw), gw) == nil && harness.IsTrue(gw.Status.Conditions, "Programmed", gw.Generation)
		}, func() string { return harness.Describe(gw.Status.Conditions) }))
		if err := k.Delete(ctx, team); err != nil {
			t.Fatal(err)
		}
		programmed(t, team, "DeleteBlocked", "Gateway default/my-hotel")
		if !e.hasNetwork(t, "my-hotel") {
			t.Fatal("the network was deleted while its Gateway uses it")
		}
		if err := k.Delete(ctx, gw); err != nil {
			t.Fatal(err)
		}
		waitGoneIn(t, k, gw, team)
		harness.Eventually(t, time.Minute, harness.That(func() bool { return !e.hasNetwork(t, "my-hotel") },
			func() string { return "network my-hotel still exists" }))
	})

	t.Run("an adopted network outlives its resource", func(t *testing.T) {
		if err := k.Delete(ctx, adopted); err != nil {
			t.Fatal(err)
		}
		waitGoneIn(t, k, adopted)
		if !e.hasNetwork(t, "adopted-sn") {
			t.Fatal("the adopted network was deleted")
		}
	})
}

// hasNetwork says whether Local Lattice has a service network of that name, asked through the SDK.
func (e *env) hasNetwork(t *testing.T, name string) bool {
	t.Helper()
	out, err := e.client.ListServiceNetworks(context.Background(), &vpclattice.ListServiceNetworksInput{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(out.Items, func(s latticetypes.ServiceNetworkSummary) bool { return aws.ToString(s.Name) == name })
}

// TestServiceNetworkOverride runs the controller in upstream's conformance mode
// (ENABLE_SERVICE_NETWORK_OVERRIDE with DEFAULT_SERVICE_NETWORK): the walkthrough's routes are
// associated with the default network only, which the cluster VPC is associated with.
func TestServiceNetworkOverride(t *testing.T) {
	e := startEnv(t, "127.0.82.1")
	ctx := context.Background()
	o := harness.ControllerOptions{}
	o.Lattice.DefaultServiceNetwork, o.Lattice.EnableServiceNetworkOverride = "conformance-sn", true
	e.startController(t, o)
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"inventory", "rates"} {
		harness.RouteProgrammed(t, e.cluster.Client, "default", route, "my-hotel", 2*time.Minute)
	}
	associated := func() map[string][]string {
		out := map[string][]string{}
		nets, err := e.client.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nets.Items {
			as, err := e.client.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceNetworkIdentifier: n.Id})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as.Items {
				out[aws.ToString(n.Name)] = append(out[aws.ToString(n.Name)], aws.ToString(a.ServiceName))
			}
		}
		return out
	}
	got := associated()
	slices.Sort(got["conformance-sn"])
	if len(got) != 1 || fmt.Sprint(got["conformance-sn"]) != "[inventory-default rates-default]" {
		t.Errorf("service associations by network: %v, want both services in conformance-sn only", got)
	}
	vpcs, err := e.client.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String(vpcID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Items) != 1 || aws.ToString(vpcs.Items[0].ServiceNetworkName) != "conformance-sn" {
		t.Errorf("VPC associations: %+v, want one with conformance-sn", vpcs.Items)
	}

	// Requests reach both versions through the default network.
	inventory := harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)
	dnsName := inventory.Annotations[status.AnnotationDomainName]
	ips, err := cluster.ResolveDNS(dnsName, e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/"
	dial := cluster.PodDialer(t)
	var answers map[string]int
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		answers = cluster.Apps(cluster.SendRequests(20, url, dnsName, dial))
		return answers["inventory-ver1"] > 0 && answers["inventory-ver2"] > 0 && answers["inventory-ver1"]+answers["inventory-ver2"] == 20
	}, func() string { return fmt.Sprintf("20 requests to %s answered by %v", dnsName, answers) }))
}
