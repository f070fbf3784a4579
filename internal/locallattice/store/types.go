// Package store holds Local Lattice's state: every VPC Lattice resource, with the same fields and
// names as the API (JSON tags are the API's lowerCamel member names), kept in memory and
// optionally persisted to a file.
//
// The data plane reads it through Snapshot and Subscribe and reports target health back through
// SetTargetHealth; the API server is the only writer of configuration.
package store

import "time"

// ServiceNetwork is a VPC Lattice service network.
type ServiceNetwork struct {
	ID            string            `json:"id"`
	ARN           string            `json:"arn"`
	Name          string            `json:"name"`
	AuthType      string            `json:"authType"`
	SharingConfig *SharingConfig    `json:"sharingConfig,omitempty"`
	CreatedAt     time.Time         `json:"createdAt"`
	LastUpdatedAt time.Time         `json:"lastUpdatedAt"`
	Tags          map[string]string `json:"-"`
}

// SharingConfig is the service network's sharing configuration.
type SharingConfig struct {
	Enabled bool `json:"enabled"`
}

// DNSEntry is a generated DNS name.
type DNSEntry struct {
	DomainName   string `json:"domainName"`
	HostedZoneID string `json:"hostedZoneId"`
}

// Service is a VPC Lattice service.
type Service struct {
	ID               string            `json:"id"`
	ARN              string            `json:"arn"`
	Name             string            `json:"name"`
	CustomDomainName string            `json:"customDomainName,omitempty"`
	CertificateARN   string            `json:"certificateArn,omitempty"`
	AuthType         string            `json:"authType"`
	DNSEntry         DNSEntry          `json:"dnsEntry"`
	Status           string            `json:"status"`
	CreatedAt        time.Time         `json:"createdAt"`
	LastUpdatedAt    time.Time         `json:"lastUpdatedAt"`
	Tags             map[string]string `json:"-"`
}

// Listener is a listener of a service.
type Listener struct {
	ID            string     `json:"id"`
	ARN           string     `json:"arn"`
	Name          string     `json:"name"`
	ServiceID     string     `json:"serviceId"`
	ServiceARN    string     `json:"serviceArn"`
	Protocol      string     `json:"protocol"` // HTTP | HTTPS | TLS_PASSTHROUGH
	Port          int32      `json:"port"`
	DefaultAction RuleAction `json:"defaultAction"`
	// DefaultRuleID names the synthesised default rule, so GetRule works on what ListRules shows.
	DefaultRuleID string            `json:"-"`
	CreatedAt     time.Time         `json:"createdAt"`
	LastUpdatedAt time.Time         `json:"lastUpdatedAt"`
	Tags          map[string]string `json:"-"`
}

// Rule is a non-default listener rule. The default rule is synthesised from the listener.
type Rule struct {
	ID            string            `json:"id"`
	ARN           string            `json:"arn"`
	Name          string            `json:"name"`
	ListenerID    string            `json:"-"`
	ServiceID     string            `json:"-"`
	Priority      int32             `json:"priority"`
	Match         RuleMatch         `json:"match"`
	Action        RuleAction        `json:"action"`
	CreatedAt     time.Time         `json:"createdAt"`
	LastUpdatedAt time.Time         `json:"lastUpdatedAt"`
	Tags          map[string]string `json:"-"`
}

// RuleAction is the API's RuleAction union: exactly one of Forward and FixedResponse is set.
type RuleAction struct {
	Forward       *ForwardAction       `json:"forward,omitempty"`
	FixedResponse *FixedResponseAction `json:"fixedResponse,omitempty"`
}

// ForwardAction forwards to weighted target groups.
type ForwardAction struct {
	TargetGroups []WeightedTargetGroup `json:"targetGroups"`
}

// WeightedTargetGroup is a target group (always stored by ID) and its weight.
type WeightedTargetGroup struct {
	TargetGroupIdentifier string `json:"targetGroupIdentifier"`
	Weight                *int32 `json:"weight,omitempty"`
}

// FixedResponseAction answers with a status code and an empty body.
type FixedResponseAction struct {
	StatusCode int32 `json:"statusCode"`
}

// RuleMatch is the API's RuleMatch union (only httpMatch exists).
type RuleMatch struct {
	HTTPMatch *HTTPMatch `json:"httpMatch,omitempty"`
}

// HTTPMatch is a rule's HTTP match; absent fields are wildcards.
type HTTPMatch struct {
	Method        string        `json:"method,omitempty"`
	PathMatch     *PathMatch    `json:"pathMatch,omitempty"`
	HeaderMatches []HeaderMatch `json:"headerMatches"`
}

// PathMatch matches the request path.
type PathMatch struct {
	Match         PathMatchType `json:"match"`
	CaseSensitive *bool         `json:"caseSensitive,omitempty"`
}

// PathMatchType is a union: exactly one of Exact and Prefix is set.
type PathMatchType struct {
	Exact  *string `json:"exact,omitempty"`
	Prefix *string `json:"prefix,omitempty"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Name          string          `json:"name"`
	Match         HeaderMatchType `json:"match"`
	CaseSensitive *bool           `json:"caseSensitive,omitempty"`
}

// HeaderMatchType is a union: exactly one of Exact, Prefix and Contains is set.
type HeaderMatchType struct {
	Exact    *string `json:"exact,omitempty"`
	Prefix   *string `json:"prefix,omitempty"`
	Contains *string `json:"contains,omitempty"`
}

// TargetGroup is a target group and its registered targets.
type TargetGroup struct {
	ID            string             `json:"id"`
	ARN           string             `json:"arn"`
	Name          string             `json:"name"`
	Type          string             `json:"type"` // IP | LAMBDA | INSTANCE | ALB
	Config        *TargetGroupConfig `json:"config,omitempty"`
	Status        string             `json:"status"`
	CreatedAt     time.Time          `json:"createdAt"`
	LastUpdatedAt time.Time          `json:"lastUpdatedAt"`
	Targets       []Target           `json:"-"`
	Tags          map[string]string  `json:"-"`
}

// TargetGroupConfig is the target group's configuration.
type TargetGroupConfig struct {
	Port                        *int32             `json:"port,omitempty"`
	Protocol                    string             `json:"protocol,omitempty"`        // HTTP | HTTPS | TCP
	ProtocolVersion             string             `json:"protocolVersion,omitempty"` // HTTP1 | HTTP2 | GRPC
	IPAddressType               string             `json:"ipAddressType,omitempty"`
	VPCIdentifier               string             `json:"vpcIdentifier,omitempty"`
	HealthCheck                 *HealthCheckConfig `json:"healthCheck,omitempty"`
	LambdaEventStructureVersion string             `json:"lambdaEventStructureVersion,omitempty"`
}

// HealthCheckConfig is a target group's health check.
type HealthCheckConfig struct {
	Enabled                    *bool    `json:"enabled,omitempty"`
	Protocol                   string   `json:"protocol,omitempty"`
	ProtocolVersion            string   `json:"protocolVersion,omitempty"`
	Port                       *int32   `json:"port,omitempty"`
	Path                       string   `json:"path,omitempty"`
	HealthCheckIntervalSeconds *int32   `json:"healthCheckIntervalSeconds,omitempty"`
	HealthCheckTimeoutSeconds  *int32   `json:"healthCheckTimeoutSeconds,omitempty"`
	HealthyThresholdCount      *int32   `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount    *int32   `json:"unhealthyThresholdCount,omitempty"`
	Matcher                    *Matcher `json:"matcher,omitempty"`
}

// Matcher is the health check's success-code union.
type Matcher struct {
	HTTPCode *string `json:"httpCode,omitempty"`
}

// Target is a registered target with its status.
type Target struct {
	ID         string `json:"id"`
	Port       int32  `json:"port"`
	Status     string `json:"status"` // INITIAL | HEALTHY | UNHEALTHY | UNAVAILABLE | UNUSED | DRAINING
	ReasonCode string `json:"reasonCode,omitempty"`
	// DrainingUntil is set while Status is DRAINING; the target disappears afterwards.
	DrainingUntil time.Time `json:"-"`
}

// ServiceNetworkServiceAssociation associates a service with a service network.
type ServiceNetworkServiceAssociation struct {
	ID               string            `json:"id"`
	ARN              string            `json:"arn"`
	Status           string            `json:"status"`
	CreatedBy        string            `json:"createdBy"`
	CreatedAt        time.Time         `json:"createdAt"`
	ServiceID        string            `json:"serviceId"`
	ServiceNetworkID string            `json:"serviceNetworkId"`
	Tags             map[string]string `json:"-"`
}

// ServiceNetworkVpcAssociation associates a VPC with a service network.
type ServiceNetworkVpcAssociation struct {
	ID               string            `json:"id"`
	ARN              string            `json:"arn"`
	Status           string            `json:"status"`
	CreatedBy        string            `json:"createdBy"`
	CreatedAt        time.Time         `json:"createdAt"`
	LastUpdatedAt    time.Time         `json:"lastUpdatedAt"`
	ServiceNetworkID string            `json:"serviceNetworkId"`
	VPCID            string            `json:"vpcId"`
	SecurityGroupIDs []string          `json:"securityGroupIds,omitempty"`
	PrivateDNS       bool              `json:"privateDnsEnabled"`
	DNSOptions       *DNSOptions       `json:"dnsOptions,omitempty"`
	Tags             map[string]string `json:"-"`
}

// DNSOptions is the private DNS configuration of a VPC association.
type DNSOptions struct {
	PrivateDNSPreference       string   `json:"privateDnsPreference,omitempty"`
	PrivateDNSSpecifiedDomains []string `json:"privateDnsSpecifiedDomains,omitempty"`
}

// AuthPolicy is the auth policy of a service network or service.
type AuthPolicy struct {
	ResourceID    string    `json:"-"`
	Policy        string    `json:"policy"`
	CreatedAt     time.Time `json:"createdAt"`
	LastUpdatedAt time.Time `json:"lastUpdatedAt"`
}

// AccessLogSubscription sends access logs of a service network or service to a destination.
type AccessLogSubscription struct {
	ID                    string            `json:"id"`
	ARN                   string            `json:"arn"`
	ResourceID            string            `json:"resourceId"`
	ResourceARN           string            `json:"resourceArn"`
	DestinationARN        string            `json:"destinationArn"`
	ServiceNetworkLogType string            `json:"serviceNetworkLogType,omitempty"`
	CreatedAt             time.Time         `json:"createdAt"`
	LastUpdatedAt         time.Time         `json:"lastUpdatedAt"`
	Tags                  map[string]string `json:"-"`
}

// Snapshot is a consistent, immutable copy of everything the data plane needs. Readers must not
// modify it; the store builds a new one after every change.
type Snapshot struct {
	Version                uint64
	Region                 string
	AccountID              string
	ServiceNetworks        []ServiceNetwork
	Services               []Service
	Listeners              []Listener
	Rules                  []Rule
	TargetGroups           []TargetGroup
	ServiceAssociations    []ServiceNetworkServiceAssociation
	VPCAssociations        []ServiceNetworkVpcAssociation
	AuthPolicies           []AuthPolicy
	AccessLogSubscriptions []AccessLogSubscription
	// Certificates are the Local ACM certificates, served on HTTPS listeners of services that
	// name them.
	Certificates []Certificate
}

// DataPlaneSource is what the data plane needs from the store. *Store implements it.
type DataPlaneSource interface {
	// Snapshot returns the current configuration, safe for concurrent use; cheap (no copy) except
	// for the first call after a change, which rebuilds it.
	Snapshot() *Snapshot
	// Subscribe calls fn (without holding any store lock) after every change; it returns a
	// function that cancels the subscription.
	Subscribe(fn func()) (cancel func())
	// SetTargetHealth records a health-check result: status is HEALTHY, UNHEALTHY or
	// UNAVAILABLE. Unknown target groups or targets are ignored.
	SetTargetHealth(targetGroupID, targetID string, port int32, status, reasonCode string)
}
