package pipeline

import (
	"context"
	"reflect"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// TestServiceNetworkResource: what a pass decides for ServiceNetwork objects from deploy's
// answer: status, finalizers held while live, while a Gateway of the name blocks the deletion,
// and while the network fails to delete; released otherwise.
func TestServiceNetworkResource(t *testing.T) {
	const objects = world + `---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceNetwork
metadata: {name: my-hotel, generation: 1}
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceNetwork
metadata: {name: team-sn, generation: 1}
`
	const arn = "arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-1"
	owner := testConfig.ManagedBy()
	// answer is Lattice programming everything, with the networks of the ServiceNetwork objects
	// owned as owners says, and the withdrawals given.
	answer := func(owners map[string]string, withdrawn map[string]string) func(*model.Model) (*deploy.Result, error) {
		return func(m *model.Model) (*deploy.Result, error) {
			res, _ := programmed("")(m)
			res.ServiceNetworks = map[string]deploy.ServiceNetworkResult{}
			for _, sn := range m.ServiceNetworks {
				if sn.Resource != "" {
					res.ServiceNetworks[sn.Resource] = deploy.ServiceNetworkResult{Programmed: true, ServiceNetworkARN: arn, ServiceNetworkID: "sn-1", ManagedBy: owners[sn.Name]}
				}
			}
			res.Withdrawals.ServiceNetworks = withdrawn
			return res, nil
		}
	}
	cases := []struct {
		name         string
		mutate       func(*translate.Input)
		answer       func(*model.Model) (*deploy.Result, error)
		protect      []string
		release      []string
		statuses     map[string]condition
		unprogrammed int
	}{{
		name:    "live: held, programmed as created or adopted",
		answer:  answer(map[string]string{"my-hotel": owner}, nil),
		protect: []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice", "hold HTTPRoute inventory", "hold ServiceNetwork my-hotel", "hold ServiceNetwork team-sn"},
		statuses: map[string]condition{
			"my-hotel": {"True", "Programmed", "aws-service-network-arn: " + arn + "; created by this controller, deleted with this resource"},
			"team-sn":  {"True", "Programmed", "aws-service-network-arn: " + arn + "; adopted: not created by this controller, so never deleted by it"},
		},
	}, {
		name: "deleted while Gateway my-hotel exists: blocked, held, retried",
		mutate: func(in *translate.Input) {
			deleting(&in.ServiceNetworks[0])
		},
		answer:       answer(map[string]string{"my-hotel": owner}, nil),
		protect:      []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice", "hold HTTPRoute inventory", "hold ServiceNetwork team-sn"},
		statuses:     map[string]condition{"my-hotel": {"False", translate.ReasonDeleteBlocked, "Cannot delete: Gateway default/my-hotel still uses this service network; delete it first"}},
		unprogrammed: 1,
	}, {
		name: "deleted, network deletion fails: held with the reason",
		mutate: func(in *translate.Input) {
			deleting(&in.ServiceNetworks[1])
		},
		answer:       answer(nil, map[string]string{"team-sn": "DeleteServiceNetwork service network team-sn: ConflictException: in use"}),
		statuses:     map[string]condition{"team-sn": {"False", "DeleteError", "DeleteServiceNetwork service network team-sn: ConflictException: in use"}},
		unprogrammed: 2,
	}, {
		name: "deleted, network gone: released",
		mutate: func(in *translate.Input) {
			deleting(&in.ServiceNetworks[1])
		},
		answer:  answer(nil, nil),
		release: []string{"release ServiceNetwork team-sn"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := New(testConfig, &fakeDeployer{result: c.answer})
			pass := p.Translate(parse(t, objects, c.mutate))
			if c.protect != nil {
				if got := decisions(pass.Protect()); !reflect.DeepEqual(got, c.protect) {
					t.Errorf("protect %v, want %v", got, c.protect)
				}
			}
			p.Deploy(context.Background(), pass)
			var release []string
			for _, d := range decisions(pass.Release()) {
				if d == "release ServiceNetwork my-hotel" || d == "release ServiceNetwork team-sn" {
					release = append(release, d)
				}
			}
			if !reflect.DeepEqual(release, c.release) {
				t.Errorf("release %v, want %v", release, c.release)
			}
			for name, want := range c.statuses {
				if got := programmedOf(t, pass.Output.ServiceNetworks[name].Conditions); got != want {
					t.Errorf("%s: Programmed %+v, want %+v", name, got, want)
				}
			}
			if n := pass.Unprogrammed(); n != c.unprogrammed {
				t.Errorf("Unprogrammed %d, want %d", n, c.unprogrammed)
			}
		})
	}
}
