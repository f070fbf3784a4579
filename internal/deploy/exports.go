package deploy

import (
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Exports: the standalone target groups of ServiceExports. They are created, tagged and given
// targets like a route's target groups, but belong to no Lattice service, and other clusters'
// rules may forward to them. Deleting one therefore first tags it ExportDeleted (importers stop
// resolving it on their next refresh), then deregisters its targets and tries the deletion once
// per Apply: while another cluster's rule still uses it Lattice answers ConflictException, which
// is reported on that export alone (its finalizer stays) instead of failing the whole Apply.

func exportStatus(k model.ExportKey) statusKey { return statusKey{kind: "export", export: k} }

// exports adds one sequence per export to the plan.
func (x *differ) exports(p *Plan, m *model.Model, wantTG map[string]bool) {
	for _, e := range m.Exports {
		s := &sequence{status: exportStatus(e.Key)}
		p.exports = append(p.exports, s)
		for _, tg := range e.TargetGroups {
			if wantTG[tg.Name] {
				s.err = errDuplicateTargetGroup(tg.Name)
				break
			}
			wantTG[tg.Name] = true
			if x.targetGroup(s, tg, ""); s.err != nil {
				st := x.obs.targetGroups.get(tg.Name)
				s.conflict = st != nil && !x.mayManage(st.tags[model.TagManagedBy], "")
				break
			}
			if st := x.obs.targetGroups.get(tg.Name); st != nil && st.tags[model.TagExportDeleted] == "true" {
				// Exported again after a deletion that did not finish: importers may use it again.
				s.add(opTagResource("target group "+tg.Name, st.arn, map[string]string{model.TagExportDeleted: "false"}, taggedTargetGroup, tg.Name))
			}
		}
	}
}

func exportResult(s *sequence, failures map[statusKey]string) ExportResult {
	if msg, failed := failures[s.status]; failed {
		return ExportResult{Message: msg, Conflict: s.conflict}
	}
	return ExportResult{Programmed: true}
}

// exportOf is the export a target group was created for, from its tags.
func exportOf(st *tgState) (model.ExportKey, bool) {
	if st.tags[model.TagSourceTypeKey] != model.SourceTypeServiceExport {
		return model.ExportKey{}, false
	}
	return model.ExportKey{Namespace: st.tags[model.TagServiceNamespace], Name: st.tags[model.TagServiceName]}, true
}

// exportDeletion withdraws and deletes an exported target group no model wants; its failures
// report to the export.
func (x *differ) exportDeletion(st *tgState, key model.ExportKey) *sequence {
	s := &sequence{status: exportStatus(key)}
	if st.tags[model.TagExportDeleted] != "true" {
		s.add(opTagResource("target group "+st.name, st.arn, map[string]string{model.TagExportDeleted: "true"}, taggedTargetGroup, st.name))
	}
	return x.drainAndDelete(s, st, opDeleteExportedTargetGroup(st.name))
}
