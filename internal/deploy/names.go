package deploy

import (
	"slices"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Names of existing resources: a Lattice service or target group another controller version (or
// upstream, the AWS Gateway API Controller) created for a route is found by its tags and kept
// under its own name, so that a switch of controllers keeps every service, its DNS name and its
// target groups. Only the observed state is searched; nothing is read for it.

// routeTagKeys identify the route a service belongs to.
var routeTagKeys = []string{model.TagRouteType, model.TagRouteNamespace, model.TagRouteName}

// targetGroupTagKeys identify the backend and route a target group belongs to.
var targetGroupTagKeys = []string{model.TagClusterName, model.TagSourceTypeKey, model.TagRouteNamespace, model.TagRouteName,
	model.TagServiceNamespace, model.TagServiceName, model.TagProtocolVersion}

// tagIdentity joins the values of keys in tags; "" when none of them is set.
func tagIdentity(tags map[string]string, keys []string) string {
	var b strings.Builder
	set := false
	for _, k := range keys {
		v, ok := tags[k]
		set = set || ok
		b.WriteString(v)
		b.WriteByte(0)
	}
	if !set {
		return ""
	}
	return b.String()
}

// resolveNames returns m with every service and target group named as the Lattice resource it
// is to become: a route's existing service (by route tags) whatever its name; else the model's
// name, unless another route's service has it, then the model's CollisionName. Target groups not
// found by name are matched by tags and immutable fields. m itself is not changed.
func (x *differ) resolveNames(m *model.Model) *model.Model {
	out := *m
	out.Services = slices.Clone(m.Services)
	svcByRoute := map[string][]string{}
	for _, name := range x.obs.services.keys(nil) {
		if id := tagIdentity(x.obs.services.get(name).tags, routeTagKeys); id != "" {
			svcByRoute[id] = append(svcByRoute[id], name)
		}
	}
	claimed := map[string]bool{}
	found := make([]bool, len(out.Services))
	for i := range out.Services {
		svc := &out.Services[i]
		if st := x.obs.services.get(svc.Name); st != nil && !x.otherRoute(st, svc) {
			found[i], claimed[svc.Name] = true, true
		}
	}
	for i := range out.Services {
		svc := &out.Services[i]
		if found[i] {
			continue
		}
		for _, name := range svcByRoute[tagIdentity(svc.Tags, routeTagKeys)] {
			if !claimed[name] && x.mayManage(x.obs.services.get(name).tags[model.TagManagedBy], svc.AllowTakeoverFrom) {
				svc.Name, found[i], claimed[name] = name, true, true
				break
			}
		}
	}
	for i := range out.Services {
		svc := &out.Services[i]
		if found[i] {
			continue
		}
		if svc.CollisionName != "" && (claimed[svc.Name] || x.otherRoute(x.obs.services.get(svc.Name), svc)) {
			svc.Name = svc.CollisionName
		}
		claimed[svc.Name] = true
	}
	x.resolveTargetGroups(out.Services)
	return &out
}

// otherRoute says whether st exists and carries the route tags of a route other than svc's.
func (x *differ) otherRoute(st *svcState, svc *model.Service) bool {
	if st == nil {
		return false
	}
	id := tagIdentity(st.tags, routeTagKeys)
	return id != "" && id != tagIdentity(svc.Tags, routeTagKeys)
}

// resolveTargetGroups renames, in services, each target group that does not exist by name to an
// existing group with its tags and immutable fields, and the forward actions that use it.
func (x *differ) resolveTargetGroups(services []model.Service) {
	wanted := map[string]bool{}
	for _, svc := range services {
		for _, tg := range svc.TargetGroups {
			wanted[tg.Name] = true
		}
	}
	candidates := map[string][]string{}
	for _, name := range x.obs.targetGroups.keys(func(t *tgState) bool { return !wanted[t.name] }) {
		if id := tagIdentity(x.obs.targetGroups.get(name).tags, targetGroupTagKeys); id != "" {
			candidates[id] = append(candidates[id], name)
		}
	}
	if len(candidates) == 0 {
		return
	}
	claimed := map[string]bool{}
	for i := range services {
		svc := &services[i]
		renamed := map[string]string{}
		for j, tg := range svc.TargetGroups {
			if x.obs.targetGroups.get(tg.Name) != nil {
				continue
			}
			for _, name := range candidates[tagIdentity(tg.Tags, targetGroupTagKeys)] {
				st := x.obs.targetGroups.get(name)
				if claimed[name] || !sameImmutable(st, tg) || !x.mayManage(st.tags[model.TagManagedBy], svc.AllowTakeoverFrom) {
					continue
				}
				if len(renamed) == 0 {
					svc.TargetGroups = slices.Clone(svc.TargetGroups)
				}
				claimed[name], renamed[tg.Name] = true, name
				svc.TargetGroups[j].Name = name
				break
			}
		}
		if len(renamed) > 0 {
			svc.Listeners = renameForwards(svc.Listeners, renamed)
		}
	}
}

// sameImmutable says whether st can serve as tg: Lattice cannot change these fields. The port is
// the model's or, for groups created with the Service port before target groups used upstream's
// port 80, that one.
func sameImmutable(st *tgState, tg model.TargetGroup) bool {
	return st.typ == tg.Type && (st.port == tg.Port || (tg.Backend.Port != 0 && st.port == tg.Backend.Port)) &&
		st.protocol == tg.Protocol && st.ipAddressType == tg.IPAddressType && st.vpcID == tg.VPCID &&
		(st.protocolVersion == "" || st.protocolVersion == tg.ProtocolVersion)
}

// renameForwards returns copies of listeners whose forward actions use the renamed groups.
func renameForwards(listeners []model.Listener, renamed map[string]string) []model.Listener {
	rename := func(a model.Action) model.Action {
		if len(a.Forward) == 0 {
			return a
		}
		a.Forward = slices.Clone(a.Forward)
		for i, f := range a.Forward {
			if to, ok := renamed[f.TargetGroup]; ok {
				a.Forward[i].TargetGroup = to
			}
		}
		return a
	}
	out := slices.Clone(listeners)
	for i := range out {
		out[i].DefaultAction = rename(out[i].DefaultAction)
		out[i].Rules = slices.Clone(out[i].Rules)
		for j := range out[i].Rules {
			out[i].Rules[j].Action = rename(out[i].Rules[j].Action)
		}
	}
	return out
}
