package testenv

import "testing"

func TestUniqueControllerName(t *testing.T) {
	// A base of its own, so that the test also passes with -count=N.
	a := UniqueControllerName("unique") + "-a"
	var got []string
	for _, n := range []string{a, a + "-2", a, a, "other-" + a} {
		got = append(got, UniqueControllerName(n))
	}
	want := []string{a, a + "-2", a + "-3", a + "-4", "other-" + a}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("names %v, want %v", got, want)
		}
	}
}
