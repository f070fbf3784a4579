// Package translate turns a snapshot of Gateway API and core objects into the desired VPC Lattice
// model and the Gateway API status of every object this controller owns.
//
// Translate is pure: no I/O, no clock, no randomness. Equal inputs in any order give equal
// outputs, so the deployer can diff models and the status writer can skip no-op updates.
// Programmed conditions are left Pending here, and transition times zero: the pipeline fills
// them in from what Lattice answered (package status) and knows nothing of deploy here.
package translate

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// DefaultControllerName is the upstream controller's name, kept so GatewayClasses written for the
// AWS Gateway API Controller work unchanged.
const DefaultControllerName = "application-networking.k8s.aws/gateway-api-controller"

// PodReadinessGate is upstream's pod readiness-gate condition type, which the controller sets
// from Lattice target health.
const PodReadinessGate corev1.PodConditionType = "application-networking.k8s.aws/pod-readiness-gate"

// Annotation and TLS option keys shared with the upstream controller.
const (
	AnnotationServiceNameOverride = "application-networking.k8s.aws/service-name-override"
	OptionCertificateARN          = "application-networking.k8s.aws/certificate-arn"
	AnnotationAllowTakeoverFrom   = "application-networking.k8s.aws/allow-takeover-from"
	// AnnotationStandalone "true" on a route, or else on a parent Gateway, makes the route's
	// service join no service network.
	AnnotationStandalone = "application-networking.k8s.aws/standalone"
	// annotationRulePriority, with the rule's index from 0, sets the rule's place in the order.
	annotationRulePriority = "application-networking.k8s.aws/rule-%d-priority"
)

// AnnotationPathPrefix on an HTTPRoute, set to PathPrefixString, makes each PathPrefix match one
// Lattice string-prefix rule as upstream does ("/api" then also matches "/apix"), instead of the
// spec's whole-path-element match, which takes two Lattice rules (exact "/api", prefix "/api/").
// It is the opt-in for routes that need the rules-per-listener quota.
const (
	AnnotationPathPrefix = "lattice-gateway/path-prefix"
	PathPrefixString     = "string"
)

// Input is a snapshot of the world. Order does not matter: Translate sorts internally.
type Input struct {
	GatewayClasses  []gwv1.GatewayClass
	Gateways        []gwv1.Gateway
	HTTPRoutes      []gwv1.HTTPRoute
	GRPCRoutes      []gwv1.GRPCRoute
	TLSRoutes       []gwv1.TLSRoute
	ReferenceGrants []gwv1beta1.ReferenceGrant
	ListenerSets    []gwv1.ListenerSet
	Namespaces      []corev1.Namespace
	Services        []corev1.Service
	EndpointSlices  []discoveryv1.EndpointSlice
	// GatedPods are the pods with the Lattice pod readiness gate. Their endpoints are targets
	// while not yet ready, because the gate turns ready only once the target is healthy.
	GatedPods []types.NamespacedName
	// ServiceExports with the federation annotation become standalone target groups.
	ServiceExports []v1alpha1.ServiceExport
	// ServiceImports are backendRefs resolved to exported target groups by deploy.
	ServiceImports         []v1alpha1.ServiceImport
	TargetGroupPolicies    []v1alpha1.TargetGroupPolicy
	VpcAssociationPolicies []v1alpha1.VpcAssociationPolicy
	AccessLogPolicies      []v1alpha1.AccessLogPolicy
	IAMAuthPolicies        []v1alpha1.IAMAuthPolicy
	// ServiceNetworks create or adopt the service network of their name; those being deleted
	// are kept, and their deletion may be blocked by a Gateway of that name.
	ServiceNetworks []v1alpha1.ServiceNetwork
	// Secrets are read only as listener certificateRefs.
	Secrets []corev1.Secret
	// Now is when the snapshot was taken: certificates outside their validity period at that
	// time are rejected. Zero skips that check (golden files, plans of saved manifests).
	Now time.Time
}

// Quotas are the Lattice limits Translate checks; zero fields take the Lattice defaults.
type Quotas struct {
	RulesPerListener       int // default 10 (adjustable service quota)
	TargetGroupsPerForward int // default 10 (API limit)
	HeaderMatchesPerRule   int // default 5 (API limit)
	ListenersPerService    int // default 2 (adjustable service quota)
}

// Config is what Translate needs to know about the controller and the cluster.
type Config struct {
	// ControllerName selects the GatewayClasses we own; default DefaultControllerName.
	ControllerName string
	// Owner gives the ManagedBy tag and the VPC of target groups and the VPC association.
	model.Owner
	// DefaultServiceNetwork, when set, is the service network the cluster VPC is associated with.
	DefaultServiceNetwork string
	// EnableServiceNetworkOverride associates every route's service with DefaultServiceNetwork
	// instead of its parent Gateways' networks (upstream's conformance mode).
	EnableServiceNetworkOverride bool
	// GatewayAddresses, when valid, gives every accepted Gateway the status address
	// contract.GatewayAddress(GatewayAddresses, <service network name>), which the Local Lattice data
	// plane serves when configured with the same prefix. Real VPC Lattice service networks have
	// no address, so it stays unset against AWS and Gateways then report none.
	GatewayAddresses netip.Prefix
	Quotas           Quotas
	// IgnoreMissingCertificateRefs makes an HTTPS listener whose certificateRefs name a Secret
	// that does not exist serve with Lattice's managed certificate, as the upstream controller
	// does (its examples use placeholder Secrets), instead of rejecting the listener as the spec
	// asks. ResolvedRefs stays False and says so.
	IgnoreMissingCertificateRefs bool
}

func (c Config) withDefaults() Config {
	if c.ControllerName == "" {
		c.ControllerName = DefaultControllerName
	}
	q := &c.Quotas
	for _, f := range []struct {
		v   *int
		def int
	}{{&q.RulesPerListener, 10}, {&q.TargetGroupsPerForward, 10}, {&q.HeaderMatchesPerRule, 5}, {&q.ListenersPerService, 2}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	return c
}

// Output is the desired Lattice model plus the status of every object we own.
type Output struct {
	Model          model.Model
	GatewayClasses map[string]gwv1.GatewayClassStatus
	Gateways       map[types.NamespacedName]gwv1.GatewayStatus
	// Route maps hold only the parent statuses written by our controller. A route that has none
	// any more but still carries stale entries of ours maps to an empty slice, so the status
	// writer knows to remove them.
	HTTPRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	GRPCRoutes map[types.NamespacedName][]gwv1.RouteParentStatus
	TLSRoutes  map[types.NamespacedName][]gwv1.RouteParentStatus
	// ListenerSets holds the status of every ListenerSet whose parent Gateway is ours.
	ListenerSets map[types.NamespacedName]ListenerSetStatus
	// Policies holds the status of every policy whose target is ours or missing; policies of
	// targets owned by another controller have none.
	Policies map[model.PolicyKey]v1alpha1.PolicyStatus
	// ServiceExports holds the status of every federated ServiceExport; Exported is left
	// Pending (Unknown) for the pipeline to fill in from what Lattice answered.
	ServiceExports map[types.NamespacedName]v1alpha1.ServiceExportStatus
	// ServiceNetworks holds the status of every ServiceNetwork resource by name; Programmed is
	// left Pending for the pipeline, except for a blocked deletion.
	ServiceNetworks map[string]v1alpha1.ServiceNetworkStatus
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Translate computes the desired Lattice model and the statuses for in.
func Translate(in *Input, cfg Config) *Output {
	t := newTranslator(in, cfg.withDefaults())
	t.gatewayClasses()
	t.gateways()
	t.listenerSets()
	t.serviceNetworkResources()
	t.exports()
	t.routes()
	t.finishListenerSets()
	t.policyStatuses()
	return t.out
}

// YAML renders the output for golden files and `lattice-gateway plan`: the model, then statuses
// keyed by "namespace/name".
func (o *Output) YAML() ([]byte, error) {
	keyed := func(m any) map[string]any {
		out := map[string]any{}
		switch m := m.(type) {
		case map[types.NamespacedName]gwv1.GatewayStatus:
			for k, v := range m {
				out[k.String()] = v
			}
		case map[types.NamespacedName][]gwv1.RouteParentStatus:
			for k, v := range m {
				out[k.String()] = v
			}
		}
		return out
	}
	doc := map[string]any{
		"model":          o.Model,
		"gatewayClasses": o.GatewayClasses,
		"gateways":       keyed(o.Gateways),
		"httpRoutes":     keyed(o.HTTPRoutes),
		"grpcRoutes":     keyed(o.GRPCRoutes),
		"tlsRoutes":      keyed(o.TLSRoutes),
	}
	if len(o.ListenerSets) > 0 {
		sets := map[string]ListenerSetStatus{}
		for k, v := range o.ListenerSets {
			sets[k.String()] = v
		}
		doc["listenerSets"] = sets
	}
	if len(o.ServiceExports) > 0 {
		exports := map[string]v1alpha1.ServiceExportStatus{}
		for k, v := range o.ServiceExports {
			exports[k.String()] = v
		}
		doc["serviceExports"] = exports
	}
	if len(o.ServiceNetworks) > 0 {
		doc["serviceNetworks"] = o.ServiceNetworks
	}
	if len(o.Policies) > 0 {
		policies := map[string]v1alpha1.PolicyStatus{}
		for k, v := range o.Policies {
			policies[k.String()] = v
		}
		doc["policies"] = policies
	}
	b, err := model.YAML(doc)
	if err != nil {
		return nil, fmt.Errorf("render translate output: %w", err)
	}
	return b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
