package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Imports: a forward to a ServiceImport is resolved here, not in translate, because the exports
// of other clusters are known only to Lattice. A resolution costs one Resource Groups Tagging API
// GetResources call (per 100 matches) filtered by the export's tags, or one GetTargetGroup for an
// external target group, and is cached for Config.ImportTTL: an unchanged model costs no call
// until then, and an export that appears or goes away in another cluster is seen within that
// time, provided a pass runs then (see Result.ImportRefresh). The account's target groups are
// never listed.

// importedTG is one target group an import resolved to.
type importedTG struct {
	id, arn string
}

// importState is the cached resolution of one import reference.
type importState struct {
	tgs []importedTG
	// why says, when tgs is empty, what was looked for.
	why string
	at  time.Time
}

const defaultImportTTL = 30 * time.Second

// expireImports forgets resolutions older than the TTL, so the plan resolves them again.
func (d *Deployer) expireImports(now time.Time) {
	for _, k := range d.state.imports.keys(func(s *importState) bool { return now.Sub(s.at) >= d.cfg.ImportTTL }) {
		d.state.imports.remove(k)
	}
}

// importRefresh says when the oldest cached import resolution goes stale; zero without imports.
func (d *Deployer) importRefresh(now time.Time) time.Duration {
	var oldest time.Time
	for _, k := range d.state.imports.keys(nil) {
		if at := d.state.imports.get(k).at; oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(oldest.Add(d.cfg.ImportTTL).Sub(now), time.Second)
}

// resolveImport reads what ref resolves to and caches it.
func (d *Deployer) resolveImport(ctx context.Context, ref model.ImportRef) error {
	st := &importState{at: time.Now()}
	var err error
	if ref.TargetGroupARN != "" {
		err = d.resolveExternal(ctx, ref, st)
	} else {
		err = d.resolveExports(ctx, ref, st)
	}
	if err != nil {
		return err
	}
	d.state.imports.set(ref.Key(), st)
	return nil
}

func (d *Deployer) resolveExternal(ctx context.Context, ref model.ImportRef, st *importState) error {
	out, err := d.client.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: aws.String(ref.TargetGroupARN)})
	switch {
	case isNotFound(err):
		st.why = "external target group " + ref.TargetGroupARN + " not found"
		return nil
	case err != nil:
		return fmt.Errorf("get target group %s of ServiceImport %s: %w", ref.TargetGroupARN, ref.Import, err)
	}
	st.tgs = []importedTG{{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn)}}
	return nil
}

// routeTypeVersions are the protocol-version tags of exports a route type can use.
var routeTypeVersions = map[string][]string{
	"HTTP": {model.ProtocolVersionHTTP1, model.ProtocolVersionHTTP2},
	"GRPC": {model.ProtocolVersionGRPC},
	"TLS":  {""},
}

func (d *Deployer) resolveExports(ctx context.Context, ref model.ImportRef, st *importState) error {
	if d.cfg.Tagging == nil {
		return fmt.Errorf("resolve ServiceImport %s: no Resource Groups Tagging API client configured", ref.Import)
	}
	in := &rgta.GetResourcesInput{
		ResourceTypeFilters: []string{"vpc-lattice:targetgroup"},
		TagFilters: []rgtatypes.TagFilter{
			{Key: aws.String(model.TagSourceTypeKey), Values: []string{model.SourceTypeServiceExport}},
			{Key: aws.String(model.TagServiceName), Values: []string{ref.Name}},
			{Key: aws.String(model.TagServiceNamespace), Values: []string{ref.Namespace}},
		},
	}
	if ref.ClusterName != "" {
		in.TagFilters = append(in.TagFilters, rgtatypes.TagFilter{Key: aws.String(model.TagClusterName), Values: []string{ref.ClusterName}})
	}
	p := rgta.NewGetResourcesPaginator(d.cfg.Tagging, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("find exports of ServiceImport %s: %w", ref.Import, err)
		}
		for _, r := range page.ResourceTagMappingList {
			tags := map[string]string{}
			for _, t := range r.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if exportMatches(ref, tags) {
				arn := aws.ToString(r.ResourceARN)
				st.tgs = append(st.tgs, importedTG{id: arn[strings.LastIndex(arn, "/")+1:], arn: arn})
			}
		}
	}
	slices.SortFunc(st.tgs, func(a, b importedTG) int { return strings.Compare(a.arn, b.arn) })
	if len(st.tgs) == 0 {
		st.why = fmt.Sprintf("no %s export of %s/%s found", ref.RouteType, ref.Namespace, ref.Name)
		if ref.Port != 0 {
			st.why += fmt.Sprintf(" for port %d", ref.Port)
		}
		if ref.ClusterName != "" || ref.VPCID != "" {
			st.why += fmt.Sprintf(" in cluster %q, VPC %q", ref.ClusterName, ref.VPCID)
		}
	}
	return nil
}

// exportMatches applies the filters the tag query cannot express.
func exportMatches(ref model.ImportRef, tags map[string]string) bool {
	if tags[model.TagExportDeleted] == "true" || !slices.Contains(routeTypeVersions[ref.RouteType], tags[model.TagProtocolVersion]) {
		return false
	}
	if p, ok := tags[model.TagExportedPort]; ok && ref.Port != 0 && p != fmt.Sprint(ref.Port) {
		return false
	}
	return ref.VPCID == "" || model.ManagedByVPC(tags[model.TagManagedBy]) == ref.VPCID
}

// importNotes are what resolving a route's imports has to say on its status.
type importNotes struct {
	unresolved, overLimit []string
}

// resolveAction replaces the import entries of a forward action by the target groups they
// resolve to, sharing each import's weight; an import that resolves to nothing forwards its
// share to its fallback group and is reported in notes. When that makes more target groups than
// Lattice allows in one forward action, the action keeps those of highest weight (the first of
// the route's order among equals; an import's groups in ARN order), which Lattice accepts,
// rather than failing on every pass, and notes the others. ok is false when a resolution is not
// known yet (asked for as a read).
func (x *differ) resolveAction(a model.Action, notes *importNotes) (model.Action, bool) {
	if !slices.ContainsFunc(a.Forward, func(f model.WeightedTargetGroup) bool { return f.Import != nil }) {
		return a, true
	}
	type part struct {
		tgs    []string
		weight int64
	}
	var parts []part
	factor := int64(1)
	for _, f := range a.Forward {
		if f.Import == nil {
			parts = append(parts, part{[]string{f.TargetGroup}, int64(f.Weight)})
			continue
		}
		st := x.obs.imports.get(f.Import.Key())
		if st == nil {
			x.need(read{kind: readImport, imp: *f.Import})
			return a, false
		}
		if len(st.tgs) == 0 {
			notes.unresolved = append(notes.unresolved, fmt.Sprintf("ServiceImport %s: %s", f.Import.Import, st.why))
			parts = append(parts, part{[]string{f.Import.Fallback}, int64(f.Weight)})
			continue
		}
		var names []string
		for _, tg := range st.tgs {
			names = append(names, x.obs.targetGroupName(tg.id))
		}
		if n := int64(len(names)); int64(f.Weight)%n != 0 {
			factor = lcm(factor, n)
		}
		parts = append(parts, part{names, int64(f.Weight)})
	}
	var entries []model.WeightedTargetGroup
	var maxW int64
	for _, p := range parts {
		maxW = max(maxW, p.weight*factor/int64(len(p.tgs)))
	}
	for _, p := range parts {
		w := p.weight * factor / int64(len(p.tgs))
		if maxW > maxLatticeWeight {
			w = max((w*maxLatticeWeight+maxW/2)/maxW, min(w, 1))
		}
		for _, name := range p.tgs {
			entries = addEntry(entries, name, int32(w))
		}
	}
	if len(entries) > maxTargetGroupsPerForward {
		var left []string
		entries, left = highestWeights(entries, maxTargetGroupsPerForward)
		notes.overLimit = append(notes.overLimit, fmt.Sprintf("%d target groups after resolving the ServiceImports of a rule exceed the VPC Lattice limit of %d per forward action; "+
			"forwarding to the %d of highest weight, not to %s", len(entries)+len(left), maxTargetGroupsPerForward, maxTargetGroupsPerForward, strings.Join(left, ", ")))
	}
	return model.Action{Forward: entries}, true
}

// highestWeights keeps the n entries of highest weight, earlier ones first among equals, in
// their order, and names the others.
func highestWeights(entries []model.WeightedTargetGroup, n int) (kept []model.WeightedTargetGroup, left []string) {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return int(entries[j].Weight) - int(entries[i].Weight) })
	keep := map[int]bool{}
	for _, i := range order[:n] {
		keep[i] = true
	}
	for i, e := range entries {
		if keep[i] {
			kept = append(kept, e)
		} else {
			left = append(left, strings.TrimPrefix(e.TargetGroup, "id:"))
		}
	}
	return kept, left
}

// maxLatticeWeight is the largest weight Lattice accepts in a forward action, and
// maxTargetGroupsPerForward the most target groups it accepts in one (a fixed API limit).
const (
	maxLatticeWeight          = 999
	maxTargetGroupsPerForward = 10
)

func addEntry(entries []model.WeightedTargetGroup, tg string, w int32) []model.WeightedTargetGroup {
	for i := range entries {
		if entries[i].TargetGroup == tg {
			entries[i].Weight += w
			return entries
		}
	}
	return append(entries, model.WeightedTargetGroup{TargetGroup: tg, Weight: w})
}

func lcm(a, b int64) int64 {
	g, h := a, b
	for h != 0 {
		g, h = h, g%h
	}
	return a / g * b
}

// resolveService returns svc with every import of its actions resolved, or false when a
// resolution must be read first. The unresolved imports, and the actions cut to Lattice's limit,
// are recorded for the route's status.
func (x *differ) resolveService(svc *model.Service) (*model.Service, bool) {
	var notes importNotes
	out := *svc
	out.Listeners = slices.Clone(svc.Listeners)
	ok := true
	for i := range out.Listeners {
		l := &out.Listeners[i]
		var lok bool
		l.DefaultAction, lok = x.resolveAction(l.DefaultAction, &notes)
		ok = ok && lok
		l.Rules = slices.Clone(l.Rules)
		for j := range l.Rules {
			var rok bool
			l.Rules[j].Action, rok = x.resolveAction(l.Rules[j].Action, &notes)
			ok = ok && rok
		}
	}
	if !ok {
		return &out, false
	}
	if len(notes.unresolved) > 0 {
		slices.Sort(notes.unresolved)
		x.unresolved[svc.Route] = slices.Compact(notes.unresolved)
	}
	if len(notes.overLimit) > 0 {
		slices.Sort(notes.overLimit)
		x.overLimit[svc.Route] = slices.Compact(notes.overLimit)
	}
	return &out, ok
}
