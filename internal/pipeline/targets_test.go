package pipeline

import (
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

func TestEqualIgnoringTargets(t *testing.T) {
	base := func(targets ...model.Target) *model.Model {
		return &model.Model{Services: []model.Service{{Name: "inventory-default", TargetGroups: []model.TargetGroup{{Name: "tg", Port: 8090, Targets: targets}}}}}
	}
	renamed := base()
	renamed.Services[0].TargetGroups[0].Port = 8080
	tests := []struct {
		name string
		a, b *model.Model
		want bool
	}{
		{"only targets differ", base(model.Target{IP: "10.244.0.1", Port: 8090}), base(), true},
		{"target group config differs", base(), renamed, false},
		{"service added", base(), &model.Model{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := equalIgnoringTargets(tt.a, tt.b); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if m := base(model.Target{IP: "10.244.0.1", Port: 8090}); len(m.Services[0].TargetGroups[0].Targets) != 1 {
		t.Error("equalIgnoringTargets must not modify its arguments")
	}
}
