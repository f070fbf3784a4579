package translate

import (
	"strings"
	"testing"
)

func TestLatticeName(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		maxLen     int
		reserved   string
		wantPlain  bool
	}{
		{name: "plain", want: "inventory-default", maxLen: 40, wantPlain: true},
		{name: "too long", want: "a-route-with-a-long-name-a-very-long-namespace-name", maxLen: 40},
		{name: "dots", want: "my.hotel.v2", maxLen: 63},
		{name: "too short", want: "gw", maxLen: 63},
		{name: "reserved prefix", want: "svc-x-default", maxLen: 40, reserved: "svc-"},
		{name: "double hyphen", want: "a--b", maxLen: 40},
		{name: "upper case", want: "Inventory", maxLen: 40},
		{name: "nothing usable", want: "...", maxLen: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := latticeName(tc.want, tc.maxLen, tc.reserved, tc.want)
			if !validLatticeName(got, tc.maxLen, tc.reserved) {
				t.Errorf("latticeName(%q) = %q, not a valid Lattice name", tc.want, got)
			}
			if (got == tc.want) != tc.wantPlain {
				t.Errorf("latticeName(%q) = %q, want plain name: %v", tc.want, got, tc.wantPlain)
			}
			if !tc.wantPlain && latticeName(tc.want, tc.maxLen, tc.reserved, tc.want, "other") == got {
				t.Errorf("latticeName(%q) ignores the identity hash", tc.want)
			}
		})
	}
}

func TestTargetGroupNameFitsLattice(t *testing.T) {
	long := strings.Repeat("n", 63)
	got := targetGroupName(long, long, 65535, "http1", "id")
	if len(got) > 128 || !validLatticeName(got, 128, "tg-") {
		t.Errorf("targetGroupName = %q (%d chars), not a valid Lattice target group name", got, len(got))
	}
}

func TestIntersectHostname(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"foo.example.com", "foo.example.com", "foo.example.com"},
		{"foo.example.com", "*.example.com", "foo.example.com"},
		{"a.b.example.com", "*.example.com", "a.b.example.com"},
		{"example.com", "*.example.com", ""},
		{"*.example.com", "foo.example.com", "foo.example.com"},
		{"*.foo.example.com", "*.example.com", "*.foo.example.com"},
		{"*.example.com", "*.foo.example.com", "*.foo.example.com"},
		{"*.example.com", "*.example.net", ""},
		{"foo.example.com", "bar.example.com", ""},
		{"fooexample.com", "*.example.com", ""},
	} {
		if got := intersectHostname(tc.a, tc.b); got != tc.want {
			t.Errorf("intersectHostname(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestScaleWeights(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []int64
		want []int32
	}{
		{"within range kept", []int64{50, 50}, []int32{50, 50}},
		{"scaled keeping ratio", []int64{1000000, 500000}, []int32{999, 500}},
		{"tiny positive stays 1", []int64{1000000, 1}, []int32{999, 1}},
		{"zero stays 0", []int64{2000, 0}, []int32{999, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := make([]weighted, len(tc.in))
			for i, w := range tc.in {
				entries[i] = weighted{tg: string(rune('a' + i)), weight: w}
			}
			for i, got := range scaleWeights(entries) {
				if got.Weight != tc.want[i] {
					t.Errorf("weight %d = %d, want %d", i, got.Weight, tc.want[i])
				}
			}
		})
	}
}
