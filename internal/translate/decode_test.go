package translate

import (
	"strings"
	"testing"
)

func TestParseInput(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		wantErr   string
		grants    int
	}{
		{name: "v1 ReferenceGrant", grants: 1, doc: `
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: g, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
`},
		{name: "empty and comment-only documents are skipped", doc: "---\n# nothing here\n---\n\n"},
		{name: "unknown kind", wantErr: "document 1: unsupported kind", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
		{name: "not Kubernetes", wantErr: "decode document 1", doc: "just: text\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseInput([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseInput error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(in.ReferenceGrants) != tc.grants {
				t.Errorf("got %d ReferenceGrants, want %d", len(in.ReferenceGrants), tc.grants)
			}
		})
	}
}
