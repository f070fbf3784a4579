package deploy

import (
	"slices"
	"strings"
	"sync"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The observed state: what the deployer has read from Lattice (see observe.go), kept current
// from its own writes (see execute.go), so that an unchanged model costs no API call at all.
// Children of a service (listeners, rules, associations), the targets of a target group and a few
// other facts are read only when a diff needs them; the *Known flags say whether they were.

type snState struct {
	id, arn, name string
	tags          map[string]string
	// vpcAssoc is the association of the cluster VPC with this service network, if any.
	vpcAssoc   *assocState
	auth       authState
	accessLogs accessLogState
	// tagsReread is set once the tags were read again after discovery (see shared.go).
	tagsReread bool
}

type assocState struct {
	id, arn, status string
	tags            map[string]string
	tagsKnown       bool
	// securityGroups of a VPC association, sorted; read only when a model asks for some.
	securityGroups      []string
	securityGroupsKnown bool
}

type svcState struct {
	id, arn, name, status string
	dnsName, customDomain string
	certARN               string
	certKnown             bool
	tags                  map[string]string
	// childrenKnown is set once listeners, rules and associations are observed.
	childrenKnown bool
	// suspect is set when Lattice answered NotFound for the service or a child of it.
	suspect bool
	// distrusted is set with suspect: the spec hash tag no longer vouches for the children.
	distrusted bool
	// applied is the spec hash of what the last successful apply made true (see spechash.go).
	applied    string
	listeners  map[int32]*listenerState // by port
	assocs     map[string]*assocState   // by service network ID
	auth       authState
	accessLogs accessLogState
}

type listenerState struct {
	id, arn, name, protocol string
	port                    int32
	defaultAction           model.Action
	rules                   map[string]*ruleState // by rule ID
}

type ruleState struct {
	id, arn, name string
	priority      int32
	match         model.HTTPMatch
	action        model.Action
}

type tgState struct {
	id, arn, name, status string
	typ, protocol         string
	protocolVersion       string
	ipAddressType, vpcID  string
	port                  int32
	tags                  map[string]string
	targets               map[model.Target]bool
	targetsKnown          bool
	healthCheck           *model.HealthCheck
	healthCheckKnown      bool
	// applied is the hash of the targets the last successful apply registered.
	applied string
	// serviceARNs are the services whose rules used the target group at discovery.
	serviceARNs []string
}

// observed holds the top-level resources by name. The executor deploys services in parallel, and
// each goroutine adds and removes entries, so the maps are locked; the entries themselves are
// changed only by the goroutine of the service they belong to.
type observed struct {
	serviceNetworks lockedMap[*snState]
	services        lockedMap[*svcState]
	targetGroups    lockedMap[*tgState]
	// imports are the cached resolutions of import references, by ImportRef.Key.
	imports lockedMap[*importState]
	// certificates are our ACM certificates, by ARN.
	certificates lockedMap[*certState]
	// trustSpecs says that spec hash tags may stand in for reads (first discovery only).
	trustSpecs bool
}

// serviceNetworkByID finds a service network by ID or ARN.
func (o *observed) serviceNetworkByID(id string) *snState {
	return o.serviceNetworks.find(func(sn *snState) bool { return sn.id == id || sn.arn == id })
}

// targetGroupName maps a target group ID or ARN (as rule actions carry them) to its name; an
// unknown target group gets a name no model uses, so the action compares unequal.
func (o *observed) targetGroupName(id string) string {
	if tg := o.targetGroups.find(func(tg *tgState) bool { return tg.id == id || tg.arn == id }); tg != nil {
		return tg.name
	}
	return "id:" + id
}

// targetGroupID maps a target group name to its ID; a name not created yet passes through and
// Lattice rejects it.
func (o *observed) targetGroupID(name string) string {
	if tg := o.targetGroups.get(name); tg != nil {
		return tg.id
	}
	// Another cluster's target group, resolved from an import, goes by its ID.
	return strings.TrimPrefix(name, "id:")
}

// lockedMap is a map by string key safe for concurrent use; its zero value is empty.
type lockedMap[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (l *lockedMap[V]) get(key string) V {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[key]
}

func (l *lockedMap[V]) set(key string, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]V{}
	}
	l.m[key] = v
}

func (l *lockedMap[V]) remove(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// update replaces the value under key by f(current value).
func (l *lockedMap[V]) update(key string, f func(V) V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]V{}
	}
	l.m[key] = f(l.m[key])
}

// find returns a value for which match is true, or the zero value.
func (l *lockedMap[V]) find(match func(V) bool) V {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.m {
		if match(v) {
			return v
		}
	}
	var zero V
	return zero
}

// keys returns the keys whose value satisfies keep (nil keeps all), sorted.
func (l *lockedMap[V]) keys(keep func(V) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for k, v := range l.m {
		if keep == nil || keep(v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
