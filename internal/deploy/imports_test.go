package deploy

import (
	"fmt"
	"reflect"
	"strings"
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
		var notes importNotes
		got, ok := x.resolveAction(model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: "local", Weight: c.local}, {Weight: c.imported, Import: &ref}}}, &notes)
		if !ok || len(notes.unresolved)+len(notes.overLimit) != 0 || !reflect.DeepEqual(got.Forward, c.want) {
			t.Errorf("%d/%d: got %v (ok %v, notes %+v), want %v", c.local, c.imported, got.Forward, ok, notes, c.want)
		}
	}
}

// TestResolveActionOverLimit: an import resolving to more groups than a forward action takes
// keeps the 10 of highest weight, the route's order first among equals, and names the others.
func TestResolveActionOverLimit(t *testing.T) {
	ref := model.ImportRef{Namespace: "default", Name: "inv", RouteType: "HTTP", Import: "default/inv", Fallback: "fallback"}
	obs := &observed{}
	st := &importState{}
	for i := range 11 {
		st.tgs = append(st.tgs, importedTG{id: fmt.Sprintf("tg-%02d", i)})
	}
	obs.imports.set(ref.Key(), st)
	x := &differ{obs: obs, asked: map[read]bool{}}
	var notes importNotes
	got, ok := x.resolveAction(model.Action{Forward: []model.WeightedTargetGroup{{Weight: 11, Import: &ref}, {TargetGroup: "local", Weight: 1}}}, &notes)
	// Equal weights: the import comes first in the route, so its first ten groups stay.
	var want []model.WeightedTargetGroup
	for i := range 10 {
		want = append(want, model.WeightedTargetGroup{TargetGroup: fmt.Sprintf("id:tg-%02d", i), Weight: 1})
	}
	if !ok || !reflect.DeepEqual(got.Forward, want) {
		t.Errorf("got %v (ok %v), want %v", got.Forward, ok, want)
	}
	if len(notes.overLimit) != 1 || !strings.HasSuffix(notes.overLimit[0], "not to tg-10, local") {
		t.Errorf("notes %+v, want tg-10 and local left out", notes)
	}
}
