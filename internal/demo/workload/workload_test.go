package workload

import "testing"

func TestPodOf(t *testing.T) {
	for _, tc := range []struct {
		body string
		pod  string
		ok   bool
	}{
		{"Requesting to Pod(parking-6cdcd5b4b4-g8dkb): parking handler pod", "parking-6cdcd5b4b4-g8dkb", true},
		{`{"path":"/","pod":"infra-backend-v1-abc"}`, "infra-backend-v1-abc", true},
		{`{"pod":""}`, "", true},
		{`{"path":"/"}`, "", false},
		{"upstream connect error", "", false},
		{"", "", false},
	} {
		pod, ok := PodOf([]byte(tc.body))
		if pod != tc.pod || ok != tc.ok {
			t.Errorf("PodOf(%q) = %q, %v; want %q, %v", tc.body, pod, ok, tc.pod, tc.ok)
		}
	}
}
