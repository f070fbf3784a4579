// Package model is the desired VPC Lattice state: what translate produces and deploy applies.
//
// Everything here is plain data, comparable with reflect.DeepEqual and printable as YAML, so that
// golden files and `lattice-gateway plan` show exactly what will be asked of Lattice. Slices are
// kept sorted by the producer (translate) so that equal inputs give byte-identical output.
package model

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Tag keys shared with the upstream AWS Gateway API Controller, so that switching controllers
// adopts existing Lattice resources instead of recreating them.
const (
	TagPrefix           = "application-networking.k8s.aws/"
	TagManagedBy        = TagPrefix + "ManagedBy"
	TagRouteName        = TagPrefix + "RouteName"
	TagRouteNamespace   = TagPrefix + "RouteNamespace"
	TagRouteType        = TagPrefix + "RouteType"
	TagClusterName      = TagPrefix + "ClusterName"
	TagServiceName      = TagPrefix + "ServiceName"
	TagServiceNamespace = TagPrefix + "ServiceNamespace"
	TagSourceTypeKey    = TagPrefix + "SourceTypeKey"
	TagProtocolVersion  = TagPrefix + "ProtocolVersion"
	TagGatewayName      = TagPrefix + "GatewayName"
	TagGatewayNamespace = TagPrefix + "GatewayNamespace"
	// TagAccessLogPolicy is "<namespace>/<name>" of the AccessLogPolicy an access log
	// subscription comes from.
	TagAccessLogPolicy = TagPrefix + "AccessLogPolicy"
)

// Tags of ACM certificates imported from Kubernetes Secrets: which Secret a certificate comes
// from, and the SHA-256 of the certificate and chain imported last, so a rotated Secret is seen
// without reading the certificate back.
const (
	TagSecretNamespace   = "lattice-gateway/secret-namespace"
	TagSecretName        = "lattice-gateway/secret-name"
	TagCertificateSHA256 = "lattice-gateway/certificate-sha256"
)

// ReservedTagKey says whether a tag key belongs to AWS or to a controller of this project or
// upstream: such keys are never taken from users' additional tags, nor removed as stale ones.
func ReservedTagKey(k string) bool {
	return strings.HasPrefix(strings.ToLower(k), "aws:") || strings.HasPrefix(k, TagPrefix) || strings.HasPrefix(k, ownTagPrefix)
}

const ownTagPrefix = "lattice-gateway/"

// Lattice enumerations used by the model (the API's own spelling).
const (
	ProtocolHTTP           = "HTTP"
	ProtocolHTTPS          = "HTTPS"
	ProtocolTCP            = "TCP"
	ProtocolTLSPassthrough = "TLS_PASSTHROUGH"

	ProtocolVersionHTTP1 = "HTTP1"
	ProtocolVersionHTTP2 = "HTTP2"
	ProtocolVersionGRPC  = "GRPC"

	TargetGroupTypeIP = "IP"

	IPAddressTypeIPv4 = "IPV4"
	IPAddressTypeIPv6 = "IPV6"

	AuthTypeIAM  = "AWS_IAM"
	AuthTypeNone = "NONE"

	MatchExact    = "exact"
	MatchPrefix   = "prefix"
	MatchContains = "contains"
)

// RouteKind names the Gateway API route kinds a Lattice service can come from.
type RouteKind string

const (
	KindHTTPRoute RouteKind = "HTTPRoute"
	KindGRPCRoute RouteKind = "GRPCRoute"
	KindTLSRoute  RouteKind = "TLSRoute"
)

// RouteKey is the stable identity of the Kubernetes object a Lattice service comes from.
type RouteKey struct {
	Kind      RouteKind `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
}

func (k RouteKey) String() string { return fmt.Sprintf("%s/%s/%s", k.Kind, k.Namespace, k.Name) }

// GatewayKey is the stable identity of a Gateway.
type GatewayKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k GatewayKey) String() string { return k.Namespace + "/" + k.Name }

// Model is the whole desired Lattice state owned by one controller (one ManagedBy value).
type Model struct {
	// ServiceNetworks sorted by Name.
	ServiceNetworks []ServiceNetwork `json:"serviceNetworks,omitempty"`
	// Services sorted by Name.
	Services []Service `json:"services,omitempty"`
	// Exports sorted by Key.
	Exports []Export `json:"exports,omitempty"`
	// Certificates are the Secrets to import into ACM, sorted by Name; only those some service
	// uses.
	Certificates []Certificate `json:"certificates,omitempty"`
}

// Certificate is a kubernetes.io/tls Secret to import into ACM, so that Lattice services can
// name it. The PEM material is never printed: plans and golden files show its hash.
type Certificate struct {
	// Name is "<namespace>/<name>" of the Secret.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Secret    string `json:"secret"`
	// SHA256 is the hex SHA-256 of Certificate and Chain (the key follows from the certificate).
	SHA256 string `json:"sha256"`
	// Certificate is the leaf certificate, Chain the certificates after it, PEM-encoded.
	Certificate []byte            `json:"-"`
	Chain       []byte            `json:"-"`
	PrivateKey  []byte            `json:"-"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ServiceNetwork is a Lattice service network: one per accepted Gateway, per ServiceNetwork
// resource, and the configured default one.
type ServiceNetwork struct {
	Name    string     `json:"name"`
	Gateway GatewayKey `json:"gateway"`
	// Resource is the name of the ServiceNetwork resource that asks for this network. An
	// existing network it names is adopted without our ManagedBy tag, so that a network we did
	// not create is never deleted by us.
	Resource string `json:"resource,omitempty"`
	// VPCAssociation, when set, associates the cluster VPC with this service network.
	VPCAssociation *VPCAssociation `json:"vpcAssociation,omitempty"`
	// VPCAssociationPolicy is the VpcAssociationPolicy that decided VPCAssociation, also when
	// it asked for no association.
	VPCAssociationPolicy   *PolicyKey              `json:"vpcAssociationPolicy,omitempty"`
	AccessLogSubscriptions []AccessLogSubscription `json:"accessLogSubscriptions,omitempty"`
	// Auth, when set, puts an auth policy and turns on IAM auth; nil means auth type NONE.
	Auth *AuthPolicy       `json:"auth,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
}

// VPCAssociation is a service-network-to-VPC association.
type VPCAssociation struct {
	VPCID            string   `json:"vpcID"`
	SecurityGroupIDs []string `json:"securityGroupIDs,omitempty"`
	// Tags are the additional tags of its VpcAssociationPolicy (set on creation).
	Tags map[string]string `json:"tags,omitempty"`
}

// Service is a Lattice service, one per accepted route.
type Service struct {
	Name string `json:"name"`
	// CollisionName, when set, is the name deploy gives a new service whose Name is taken by
	// another route's Lattice service (upstream's truncated names can collide, upstream #657).
	// An existing service of the route, found by its route tags, keeps its name either way.
	CollisionName    string   `json:"collisionName,omitempty"`
	Route            RouteKey `json:"route"`
	CustomDomainName string   `json:"customDomainName,omitempty"`
	CertificateARN   string   `json:"certificateARN,omitempty"`
	// Certificate, when set, is the Name of the model Certificate whose ACM ARN the service
	// uses; deploy resolves it. CertificateARN is then empty.
	Certificate string `json:"certificate,omitempty"`
	// ServiceNetworks are the names of the service networks to associate with, sorted.
	ServiceNetworks []string `json:"serviceNetworks,omitempty"`
	// Listeners sorted by Port.
	Listeners []Listener `json:"listeners,omitempty"`
	// TargetGroups used by this service's listeners and rules, sorted by Name.
	TargetGroups []TargetGroup     `json:"targetGroups,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	// AllowTakeoverFrom is the route's allow-takeover-from annotation: the ManagedBy value of
	// another controller whose existing Lattice service this one may take over.
	AllowTakeoverFrom      string                  `json:"allowTakeoverFrom,omitempty"`
	AccessLogSubscriptions []AccessLogSubscription `json:"accessLogSubscriptions,omitempty"`
	// Auth, when set, puts an auth policy and turns on IAM auth; nil means auth type NONE.
	Auth *AuthPolicy `json:"auth,omitempty"`
}

// Listener is a Lattice listener. Rules are sorted by Priority (ascending = evaluated first).
type Listener struct {
	Name          string            `json:"name"`
	Protocol      string            `json:"protocol"`
	Port          int32             `json:"port"`
	DefaultAction Action            `json:"defaultAction"`
	Rules         []Rule            `json:"rules,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

// Rule is a non-default Lattice listener rule.
type Rule struct {
	Name     string            `json:"name"`
	Priority int32             `json:"priority"`
	Match    HTTPMatch         `json:"match"`
	Action   Action            `json:"action"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// HTTPMatch is Lattice's HttpMatch; empty fields are wildcards.
type HTTPMatch struct {
	Method  string        `json:"method,omitempty"`
	Path    *PathMatch    `json:"path,omitempty"`
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// PathMatch matches the request path; Type is MatchExact or MatchPrefix.
type PathMatch struct {
	Type          string `json:"type"`
	Value         string `json:"value"`
	CaseSensitive bool   `json:"caseSensitive"`
}

// HeaderMatch matches one request header; Type is MatchExact, MatchPrefix or MatchContains.
type HeaderMatch struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Value         string `json:"value"`
	CaseSensitive bool   `json:"caseSensitive"`
}

// Action is either a weighted forward (Forward non-empty) or a fixed response (FixedResponse != 0).
type Action struct {
	Forward       []WeightedTargetGroup `json:"forward,omitempty"`
	FixedResponse int32                 `json:"fixedResponse,omitempty"`
}

// WeightedTargetGroup refers to a target group of the same Service by its Name, or (Import set,
// TargetGroup empty) to the target groups an import resolves to, which share Weight.
type WeightedTargetGroup struct {
	TargetGroup string     `json:"targetGroup,omitempty"`
	Weight      int32      `json:"weight"`
	Import      *ImportRef `json:"import,omitempty"`
}

// TargetGroup is a Lattice IP target group, one per (route, backend Service, port, protocol).
type TargetGroup struct {
	Name            string            `json:"name"`
	Backend         BackendKey        `json:"backend"`
	Type            string            `json:"type"`
	Port            int32             `json:"port"`
	Protocol        string            `json:"protocol"`
	ProtocolVersion string            `json:"protocolVersion"`
	IPAddressType   string            `json:"ipAddressType"`
	VPCID           string            `json:"vpcID"`
	HealthCheck     *HealthCheck      `json:"healthCheck,omitempty"`
	Targets         []Target          `json:"targets,omitempty"` // sorted by IP then Port
	Tags            map[string]string `json:"tags,omitempty"`
	// Policy is the TargetGroupPolicy that set the protocol, version or health check.
	Policy *PolicyKey `json:"policy,omitempty"`
}

// BackendKey is the Kubernetes Service (and port) a target group is built from.
type BackendKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Port      int32  `json:"port"`
}

// HealthCheck is a Lattice target-group health check configuration. Translate fills in Lattice's
// defaults, so it equals what GetTargetGroup reports once applied.
type HealthCheck struct {
	Enabled                 bool   `json:"enabled"`
	Protocol                string `json:"protocol,omitempty"`
	ProtocolVersion         string `json:"protocolVersion,omitempty"`
	Port                    int32  `json:"port,omitempty"`
	Path                    string `json:"path,omitempty"`
	IntervalSeconds         int32  `json:"intervalSeconds,omitempty"`
	TimeoutSeconds          int32  `json:"timeoutSeconds,omitempty"`
	HealthyThresholdCount   int32  `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount int32  `json:"unhealthyThresholdCount,omitempty"`
	Matcher                 string `json:"matcher,omitempty"`
}

// Target is one registered target: a pod IP and its container port.
type Target struct {
	IP   string `json:"ip"`
	Port int32  `json:"port"`
}

// PolicyKind names the policy kinds that change Lattice resources.
type PolicyKind string

const (
	KindTargetGroupPolicy    PolicyKind = "TargetGroupPolicy"
	KindVpcAssociationPolicy PolicyKind = "VpcAssociationPolicy"
	KindAccessLogPolicy      PolicyKind = "AccessLogPolicy"
	KindIAMAuthPolicy        PolicyKind = "IAMAuthPolicy"
)

// PolicyKey is the stable identity of a policy object. Every model element a policy changes
// carries its key, so deploy results can be reported on the policy.
type PolicyKey struct {
	Kind      PolicyKind `json:"kind"`
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
}

func (k PolicyKey) String() string { return fmt.Sprintf("%s/%s/%s", k.Kind, k.Namespace, k.Name) }

// AccessLogSubscription sends the access logs of a service or service network to S3, CloudWatch
// Logs or Firehose. Lists of them are sorted by DestinationARN.
type AccessLogSubscription struct {
	DestinationARN string            `json:"destinationARN"`
	Policy         PolicyKey         `json:"policy"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// AuthPolicy is the auth type of a service or service network and its auth policy document.
type AuthPolicy struct {
	AuthType string `json:"authType"`
	// Document is the IAM policy JSON, compacted (Lattice rejects newlines).
	Document string    `json:"document"`
	Policy   PolicyKey `json:"policy"`
}

// PolicyTargets are the Lattice resources of one policy, by the route or gateway they belong to,
// so that the deploy result of those is the policy's Programmed condition.
type PolicyTargets struct {
	Routes   []RouteKey   `json:"routes,omitempty"`
	Gateways []GatewayKey `json:"gateways,omitempty"`
	Exports  []ExportKey  `json:"exports,omitempty"`
}

// PolicyTargets lists, for every policy key m carries, the routes and gateways whose Lattice
// resources it changes, each once, in model order.
func (m *Model) PolicyTargets() map[PolicyKey]PolicyTargets {
	out := map[PolicyKey]PolicyTargets{}
	for _, sn := range m.ServiceNetworks {
		keys := policyKeys(sn.AccessLogSubscriptions, sn.Auth)
		if sn.VPCAssociationPolicy != nil {
			keys = append(keys, *sn.VPCAssociationPolicy)
		}
		for _, k := range keys {
			pt := out[k]
			pt.Gateways = appendOnce(pt.Gateways, sn.Gateway)
			out[k] = pt
		}
	}
	for _, svc := range m.Services {
		keys := policyKeys(svc.AccessLogSubscriptions, svc.Auth)
		for _, tg := range svc.TargetGroups {
			if tg.Policy != nil {
				keys = append(keys, *tg.Policy)
			}
		}
		for _, k := range keys {
			pt := out[k]
			pt.Routes = appendOnce(pt.Routes, svc.Route)
			out[k] = pt
		}
	}
	for _, e := range m.Exports {
		for _, tg := range e.TargetGroups {
			if tg.Policy != nil {
				pt := out[*tg.Policy]
				pt.Exports = appendOnce(pt.Exports, e.Key)
				out[*tg.Policy] = pt
			}
		}
	}
	return out
}

func policyKeys(subs []AccessLogSubscription, auth *AuthPolicy) []PolicyKey {
	var keys []PolicyKey
	for _, als := range subs {
		keys = append(keys, als.Policy)
	}
	if auth != nil {
		keys = append(keys, auth.Policy)
	}
	return keys
}

func appendOnce[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// YAML renders v (a Model or any part of it) as YAML for golden files and plans.
func YAML(v any) ([]byte, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal model: %w", err)
	}
	return b, nil
}
