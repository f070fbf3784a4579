package deploy

import (
	"reflect"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestResolveActionSharesWeight: an import's weight is shared by the groups it resolves to, all
// weights scaled up when the share is not a whole number, within Lattice's maximum of 999.
func TestResolveActionSharesWeight(t *testing.T) {
	ref := model.ImportRef{Namespace: "default", Name: "inv", RouteType: "HTTP", Import: "default/inv", Fallback: "fallback"}
	obs := &observed{}
	obs.imports.set(ref.Key(), &importState{tgs: []importedTG{{id: "tg-b"}, {id: "tg-c"}}})
	for _, c := range []struct {
		local, imported int32
		want            []model.WeightedTargetGroup
	}{
		{50, 50, []model.WeightedTargetGroup{{TargetGroup: "local", Weight: 50}, {TargetGroup: "id:tg-b", Weight: 25}, {TargetGroup: "id:tg-c", Weight: 25}}},
		{1, 1, []model.WeightedTargetGroup{{TargetGroup: "local", Weight: 2}, {TargetGroup: "id:tg-b", Weight: 1}, {TargetGroup: "id:tg-c", Weight: 1}}},
		{999, 1, []model.WeightedTargetGroup{{TargetGroup: "local", Weight: 999}, {TargetGroup: "id:tg-b", Weight: 1}, {TargetGroup: "id:tg-c", Weight: 1}}},
	} {
		x := &differ{obs: obs, asked: map[read]bool{}}
		var unresolved []string
		got, ok := x.resolveAction(model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: "local", Weight: c.local}, {Weight: c.imported, Import: &ref}}}, &unresolved)
		if !ok || len(unresolved) != 0 || !reflect.DeepEqual(got.Forward, c.want) {
			t.Errorf("%d/%d: got %v (ok %v, unresolved %v), want %v", c.local, c.imported, got.Forward, ok, unresolved, c.want)
		}
	}
}
