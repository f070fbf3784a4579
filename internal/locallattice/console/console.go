// Package console is Local Lattice's read-only web console: service networks, services with
// their listeners, rules, target groups and target health, policies, access-log subscriptions,
// the live traffic split per rule and the latest requests. Every value comes from the store the
// API serves (its snapshot) and from the data plane's traffic record; the page is plain HTML and
// JavaScript embedded in the binary and polls the JSON endpoints below, so nothing is built.
//
//	GET /console/                         the page
//	GET /console/api/networks             service networks, VPC associations, policies
//	GET /console/api/services?q=&page=    services, filtered by name/ID/DNS substring, 50 a page
//	GET /console/api/services/{id}        one service: listeners, rules, target groups, targets
//	GET /console/api/services/{id}/traffic   requests per rule, target group and target (last minute)
//	GET /console/api/requests?service=&limit=   latest requests, newest first
package console

import (
	"cmp"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Path is where the console is served on the admin endpoint.
const Path = "/console/"

// PageSize is how many services one page of the service list holds.
const PageSize = 50

// maxRequests bounds the requests view.
const maxRequests = 200

//go:embed assets
var assets embed.FS

// Source is the configuration the console shows (*store.Store).
type Source interface {
	Snapshot() *store.Snapshot
}

// Traffic is what the console shows of the data plane (*dataplane.DataPlane).
type Traffic interface {
	RecentRequests(n int) []dataplane.Request
	Split(now time.Time) []dataplane.SplitCount
}

type console struct {
	src     Source
	traffic Traffic // nil without a data plane
	now     func() time.Time
}

// Handler serves the console under Path. traffic may be nil (no data plane: no traffic views).
func Handler(src Source, traffic Traffic) http.Handler {
	c := &console{src: src, traffic: traffic, now: time.Now}
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, http.StripPrefix(Path, http.FileServerFS(static)))
	mux.HandleFunc("GET "+Path+"api/networks", c.networks)
	mux.HandleFunc("GET "+Path+"api/services", c.services)
	mux.HandleFunc("GET "+Path+"api/services/{id}", c.service)
	mux.HandleFunc("GET "+Path+"api/services/{id}/traffic", c.serviceTraffic)
	mux.HandleFunc("GET "+Path+"api/requests", c.requests)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": what + " not found"})
}

func (c *console) snapshot() *store.Snapshot {
	if s := c.src.Snapshot(); s != nil {
		return s
	}
	return &store.Snapshot{}
}

type network struct {
	store.ServiceNetwork
	VPCs         []store.ServiceNetworkVpcAssociation `json:"vpcAssociations"`
	Services     []string                             `json:"services"`
	AuthPolicy   string                               `json:"authPolicy,omitempty"`
	AccessLogs   []store.AccessLogSubscription        `json:"accessLogSubscriptions"`
	ServiceCount int                                  `json:"serviceCount"`
}

func (c *console) networks(w http.ResponseWriter, _ *http.Request) {
	snap := c.snapshot()
	names := serviceNames(snap)
	out := make([]network, 0, len(snap.ServiceNetworks))
	for _, sn := range snap.ServiceNetworks {
		n := network{ServiceNetwork: sn, VPCs: []store.ServiceNetworkVpcAssociation{}, Services: []string{},
			AuthPolicy: authPolicy(snap, sn.ID), AccessLogs: accessLogs(snap, sn.ID)}
		for _, a := range snap.VPCAssociations {
			if a.ServiceNetworkID == sn.ID {
				n.VPCs = append(n.VPCs, a)
			}
		}
		for _, a := range snap.ServiceAssociations {
			if a.ServiceNetworkID == sn.ID {
				n.Services = append(n.Services, names[a.ServiceID])
			}
		}
		slices.Sort(n.Services)
		n.ServiceCount = len(n.Services)
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b network) int { return cmp.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

type serviceRow struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	DNSName   string   `json:"dnsName"`
	Status    string   `json:"status"`
	Listeners int      `json:"listeners"`
	Networks  []string `json:"serviceNetworks"`
}

type servicePage struct {
	Total    int          `json:"total"`
	Page     int          `json:"page"`
	Pages    int          `json:"pages"`
	PageSize int          `json:"pageSize"`
	Items    []serviceRow `json:"items"`
}

func (c *console) services(w http.ResponseWriter, r *http.Request) {
	snap := c.snapshot()
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	var match []*store.Service
	for i := range snap.Services {
		s := &snap.Services[i]
		if q == "" || strings.Contains(strings.ToLower(s.Name), q) || strings.Contains(s.ID, q) ||
			strings.Contains(strings.ToLower(s.DNSEntry.DomainName), q) {
			match = append(match, s)
		}
	}
	slices.SortFunc(match, func(a, b *store.Service) int { return cmp.Compare(a.Name, b.Name) })
	out := servicePage{Total: len(match), PageSize: PageSize, Pages: max(1, (len(match)+PageSize-1)/PageSize), Items: []serviceRow{}}
	out.Page = min(max(page, 1), out.Pages)
	match = match[min((out.Page-1)*PageSize, len(match)):min(out.Page*PageSize, len(match))]
	if len(match) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	// Only the page's services are looked up, so a page costs the same with 10 or 10,000 services.
	want := map[string]*serviceRow{}
	for _, s := range match {
		out.Items = append(out.Items, serviceRow{ID: s.ID, Name: s.Name, DNSName: s.DNSEntry.DomainName, Status: s.Status, Networks: []string{}})
	}
	for i := range out.Items {
		want[out.Items[i].ID] = &out.Items[i]
	}
	for _, l := range snap.Listeners {
		if row := want[l.ServiceID]; row != nil {
			row.Listeners++
		}
	}
	networkNames := map[string]string{}
	for _, sn := range snap.ServiceNetworks {
		networkNames[sn.ID] = sn.Name
	}
	for _, a := range snap.ServiceAssociations {
		if row := want[a.ServiceID]; row != nil {
			row.Networks = append(row.Networks, networkNames[a.ServiceNetworkID])
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type serviceDetail struct {
	store.Service
	Networks     []store.ServiceNetworkServiceAssociation `json:"serviceNetworkAssociations"`
	NetworkNames map[string]string                        `json:"serviceNetworkNames"`
	AuthPolicy   string                                   `json:"authPolicy,omitempty"`
	AccessLogs   []store.AccessLogSubscription            `json:"accessLogSubscriptions"`
	Listeners    []listenerDetail                         `json:"listeners"`
	TargetGroups []targetGroupDetail                      `json:"targetGroups"`
}

type listenerDetail struct {
	store.Listener
	Rules []ruleDetail `json:"rules"`
}

// ruleDetail is a rule in the console's words: what it matches and what it does.
type ruleDetail struct {
	ID       string          `json:"id"`
	ARN      string          `json:"arn,omitempty"`
	Name     string          `json:"name"`
	Priority string          `json:"priority"` // "default" for the listener's default action
	Match    string          `json:"match"`
	Fixed    int32           `json:"fixedResponse,omitempty"`
	Forward  []weightedGroup `json:"forward,omitempty"`
}

type weightedGroup struct {
	ID      string `json:"targetGroupId"`
	Name    string `json:"targetGroup"`
	Weight  int32  `json:"weight"`
	Percent int    `json:"percent"`
}

type targetGroupDetail struct {
	ID          string         `json:"id"`
	ARN         string         `json:"arn"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Status      string         `json:"status"`
	Protocol    string         `json:"protocol,omitempty"`
	Version     string         `json:"protocolVersion,omitempty"`
	Port        int32          `json:"port,omitempty"`
	HealthCheck string         `json:"healthCheck"`
	Targets     []store.Target `json:"targets"`
}

func (c *console) service(w http.ResponseWriter, r *http.Request) {
	snap := c.snapshot()
	id := r.PathValue("id")
	i := slices.IndexFunc(snap.Services, func(s store.Service) bool { return s.ID == id })
	if i < 0 {
		notFound(w, "service "+id)
		return
	}
	out := serviceDetail{Service: snap.Services[i], Networks: []store.ServiceNetworkServiceAssociation{},
		NetworkNames: map[string]string{}, AuthPolicy: authPolicy(snap, id), AccessLogs: accessLogs(snap, id),
		Listeners: []listenerDetail{}, TargetGroups: []targetGroupDetail{}}
	for _, a := range snap.ServiceAssociations {
		if a.ServiceID == id {
			out.Networks = append(out.Networks, a)
		}
	}
	for _, sn := range snap.ServiceNetworks {
		out.NetworkNames[sn.ID] = sn.Name
	}
	tgs := map[string]*store.TargetGroup{}
	for i := range snap.TargetGroups {
		tgs[snap.TargetGroups[i].ID] = &snap.TargetGroups[i]
	}
	used := map[string]bool{}
	describe := func(rd ruleDetail, a store.RuleAction) ruleDetail {
		if a.FixedResponse != nil {
			rd.Fixed = a.FixedResponse.StatusCode
			return rd
		}
		if a.Forward == nil {
			return rd
		}
		var total int32
		for _, g := range a.Forward.TargetGroups {
			total += weight(g)
		}
		for _, g := range a.Forward.TargetGroups {
			wg := weightedGroup{ID: g.TargetGroupIdentifier, Weight: weight(g)}
			if tg := tgs[g.TargetGroupIdentifier]; tg != nil {
				wg.Name = tg.Name
			}
			if total > 0 {
				wg.Percent = int(wg.Weight * 100 / total)
			}
			used[g.TargetGroupIdentifier] = true
			rd.Forward = append(rd.Forward, wg)
		}
		return rd
	}
	for _, l := range snap.Listeners {
		if l.ServiceID != id {
			continue
		}
		ld := listenerDetail{Listener: l}
		var rules []store.Rule
		for _, ru := range snap.Rules {
			if ru.ListenerID == l.ID {
				rules = append(rules, ru)
			}
		}
		slices.SortFunc(rules, func(a, b store.Rule) int { return cmp.Compare(a.Priority, b.Priority) })
		for _, ru := range rules {
			ld.Rules = append(ld.Rules, describe(ruleDetail{ID: ru.ID, ARN: ru.ARN, Name: ru.Name,
				Priority: strconv.Itoa(int(ru.Priority)), Match: matchText(ru.Match)}, ru.Action))
		}
		ld.Rules = append(ld.Rules, describe(ruleDetail{ID: l.DefaultRuleID, Name: "default", Priority: "default", Match: "*"}, l.DefaultAction))
		out.Listeners = append(out.Listeners, ld)
	}
	slices.SortFunc(out.Listeners, func(a, b listenerDetail) int { return cmp.Compare(a.Port, b.Port) })
	for _, tgID := range store.SortedKeys(used) {
		if tg := tgs[tgID]; tg != nil {
			out.TargetGroups = append(out.TargetGroups, targetGroupInfo(tg))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func weight(g store.WeightedTargetGroup) int32 {
	if g.Weight == nil {
		return 100 // the API's default weight
	}
	return *g.Weight
}

func targetGroupInfo(tg *store.TargetGroup) targetGroupDetail {
	d := targetGroupDetail{ID: tg.ID, ARN: tg.ARN, Name: tg.Name, Type: tg.Type, Status: tg.Status, Targets: tg.Targets, HealthCheck: "off"}
	if d.Targets == nil {
		d.Targets = []store.Target{}
	}
	if cfg := tg.Config; cfg != nil {
		d.Protocol, d.Version = cfg.Protocol, cfg.ProtocolVersion
		if cfg.Port != nil {
			d.Port = *cfg.Port
		}
	}
	if store.HealthCheckEnabled(tg) {
		d.HealthCheck = "on"
		if hc := tg.Config.HealthCheck; hc != nil {
			d.HealthCheck = strings.TrimSpace(hc.Protocol + " " + hc.Path)
			if d.HealthCheck == "" {
				d.HealthCheck = "on"
			}
		}
	}
	return d
}

// matchText renders a rule match as one line: "GET /path* header x-a=b".
func matchText(m store.RuleMatch) string {
	h := m.HTTPMatch
	if h == nil {
		return "*"
	}
	var parts []string
	if h.Method != "" {
		parts = append(parts, h.Method)
	}
	if p := h.PathMatch; p != nil {
		switch {
		case p.Match.Exact != nil:
			parts = append(parts, "path = "+*p.Match.Exact)
		case p.Match.Prefix != nil:
			parts = append(parts, "path "+*p.Match.Prefix+"*")
		}
	}
	for _, hm := range h.HeaderMatches {
		switch {
		case hm.Match.Exact != nil:
			parts = append(parts, "header "+hm.Name+" = "+*hm.Match.Exact)
		case hm.Match.Prefix != nil:
			parts = append(parts, "header "+hm.Name+" "+*hm.Match.Prefix+"*")
		case hm.Match.Contains != nil:
			parts = append(parts, "header "+hm.Name+" ~ "+*hm.Match.Contains)
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, ", ")
}

func authPolicy(snap *store.Snapshot, resourceID string) string {
	for _, p := range snap.AuthPolicies {
		if p.ResourceID == resourceID {
			return p.Policy
		}
	}
	return ""
}

func accessLogs(snap *store.Snapshot, resourceID string) []store.AccessLogSubscription {
	out := []store.AccessLogSubscription{}
	for _, s := range snap.AccessLogSubscriptions {
		if s.ResourceID == resourceID {
			out = append(out, s)
		}
	}
	return out
}

func serviceNames(snap *store.Snapshot) map[string]string {
	out := make(map[string]string, len(snap.Services))
	for _, s := range snap.Services {
		out[s.ID] = s.Name
	}
	return out
}

// ruleTraffic is a rule's requests over the last minute.
type ruleTraffic struct {
	ListenerID   string         `json:"listenerId"`
	RuleARN      string         `json:"ruleArn,omitempty"`
	Requests     uint64         `json:"requests"`
	TargetGroups []groupTraffic `json:"targetGroups"`
}

type groupTraffic struct {
	ID       string            `json:"targetGroupId"`
	Requests uint64            `json:"requests"`
	Codes    map[string]uint64 `json:"codes"`
	Targets  map[string]uint64 `json:"targets"`
}

type trafficView struct {
	Window string        `json:"window"`
	Rules  []ruleTraffic `json:"rules"`
}

func (c *console) serviceTraffic(w http.ResponseWriter, r *http.Request) {
	out := trafficView{Window: "1m", Rules: []ruleTraffic{}}
	if c.traffic == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	id := r.PathValue("id")
	type ruleKey struct{ listener, rule string }
	rules := map[ruleKey]*ruleTraffic{}
	groups := map[ruleKey]map[string]*groupTraffic{}
	for _, s := range c.traffic.Split(c.now()) {
		if s.ServiceID != id {
			continue
		}
		k := ruleKey{s.ListenerID, s.RuleARN}
		rt := rules[k]
		if rt == nil {
			rt = &ruleTraffic{ListenerID: s.ListenerID, RuleARN: s.RuleARN}
			rules[k] = rt
			groups[k] = map[string]*groupTraffic{}
		}
		rt.Requests += s.Requests
		g := groups[k][s.TargetGroupID]
		if g == nil {
			g = &groupTraffic{ID: s.TargetGroupID, Codes: map[string]uint64{}, Targets: map[string]uint64{}}
			groups[k][s.TargetGroupID] = g
		}
		g.Requests += s.Requests
		g.Codes[s.CodeClass] += s.Requests
		if s.Target != "" {
			g.Targets[s.Target] += s.Requests
		}
	}
	for k, rt := range rules {
		for _, gid := range store.SortedKeys(groups[k]) {
			rt.TargetGroups = append(rt.TargetGroups, *groups[k][gid])
		}
		out.Rules = append(out.Rules, *rt)
	}
	slices.SortFunc(out.Rules, func(a, b ruleTraffic) int {
		return cmp.Or(cmp.Compare(a.ListenerID, b.ListenerID), cmp.Compare(a.RuleARN, b.RuleARN))
	})
	writeJSON(w, http.StatusOK, out)
}

func (c *console) requests(w http.ResponseWriter, r *http.Request) {
	out := []dataplane.Request{}
	if c.traffic == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 || limit > maxRequests {
		limit = maxRequests
	}
	service := r.URL.Query().Get("service")
	for _, req := range c.traffic.RecentRequests(dataplane.RecentRequestsKept) {
		if len(out) == limit {
			break
		}
		if service == "" || req.ServiceID == service {
			out = append(out, req)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
