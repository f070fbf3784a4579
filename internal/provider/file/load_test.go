package file

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: my-hotel
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners:
  - name: http
    protocol: HTTP
    port: 80
`

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// objects are "Kind namespace/name@file:line" of every loaded manifest, in order.
		objects []string
		// problems are prefixes ("file:line: message") of every problem, in order.
		problems []string
	}{{
		name: "multi-document file with comments and empty documents",
		files: map[string]string{"a.yaml": "# header\n---\n" + gateway + "---\n\n---\n# only a comment\n---\n" +
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: parking\n  namespace: hotel\nspec:\n  ports:\n  - port: 8090\n"},
		objects: []string{"Gateway default/my-hotel@a.yaml:3", "Service hotel/parking@a.yaml:18"},
	}, {
		name:    "json file and yml extension; other extensions and dot files ignored",
		files:   map[string]string{"c.json": `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hotel"}}`, "b.yml": gateway, "notes.txt": "kind: Nope", ".hidden.yaml": "kind: Nope", ".git/x.yaml": "kind: Nope"},
		objects: []string{"Gateway default/my-hotel@b.yml:1", "Namespace hotel@c.json:1"},
	}, {
		name:     "unparseable YAML names the line",
		files:    map[string]string{"bad.yaml": gateway + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n"},
		objects:  []string{"Gateway default/my-hotel@bad.yaml:1"},
		problems: []string{"bad.yaml:15: invalid YAML"},
	}, {
		name:     "unknown kind",
		files:    map[string]string{"k.yaml": "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRooute\nmetadata:\n  name: x\n"},
		problems: []string{"k.yaml:1: unknown kind HTTPRooute in apiVersion gateway.networking.k8s.io/v1"},
	}, {
		name:     "missing kind",
		files:    map[string]string{"k.yaml": "\n\napiVersion: v1\nmetadata:\n  name: x\n"},
		problems: []string{"k.yaml:3: missing kind"},
	}, {
		name: "unknown field points at the field",
		files: map[string]string{"f.yaml": "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: rates\nspec:\n" +
			"  rules:\n  - matches:\n    - path:\n        type: PathPrefix\n        value: /parking\n  - backendRef:\n    - name: review\n"},
		problems: []string{`f.yaml:11: HTTPRoute: unknown field spec.rules[1].backendRef`},
	}, {
		name:     "duplicate field points at the field",
		files:    map[string]string{"f.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n"},
		problems: []string{`f.yaml:5: Service: key "name" already set in map`},
	}, {
		name:     "wrong type points at the field",
		files:    map[string]string{"f.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: parking\nspec:\n  ports:\n  - port: eighty\n"},
		problems: []string{"f.yaml:7: Service: field spec.ports.port must be of type int32"},
	}, {
		name: "missing and invalid names and namespaces",
		files: map[string]string{"n.yaml": "apiVersion: v1\nkind: Service\nmetadata: {}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: Not_Valid\n" +
			"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ok\n  namespace: a.b\n"},
		problems: []string{"n.yaml:1: Service: missing metadata.name", `n.yaml:5: Service: invalid metadata.name "Not_Valid"`, `n.yaml:10: Service: invalid metadata.namespace "a.b"`},
	}, {
		name:     "duplicate object keeps the first",
		files:    map[string]string{"a.yaml": gateway, "b/c.yaml": gateway},
		objects:  []string{"Gateway default/my-hotel@a.yaml:1"},
		problems: []string{"b/c.yaml:1: Gateway default/my-hotel is already defined at "},
	}, {
		name: "older Gateway API versions are served as v1; Deployments and Lists are accepted",
		files: map[string]string{"old.yaml": "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata:\n  name: r\n---\n" +
			"apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: parking\n" +
			"- apiVersion: gateway.networking.k8s.io/v1\n  kind: GatewayClass\n  metadata:\n    name: amazon-vpc-lattice\n    namespace: ignored\n"},
		objects: []string{"HTTPRoute default/r@old.yaml:1", "Deployment default/parking@old.yaml:6", "GatewayClass amazon-vpc-lattice@old.yaml:6"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			snap, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range snap.Manifests {
				rel, _ := filepath.Rel(dir, m.File)
				got = append(got, objectKey(m.Object)+"@"+rel+":"+itoa(m.Line))
			}
			if strings.Join(got, "\n") != strings.Join(tt.objects, "\n") {
				t.Errorf("objects:\n got %q\nwant %q", got, tt.objects)
			}
			if len(snap.Problems) != len(tt.problems) {
				t.Fatalf("problems: got %v, want %d: %q", snap.Problems, len(tt.problems), tt.problems)
			}
			for i, p := range snap.Problems {
				msg := strings.TrimPrefix(p.Error(), dir+string(filepath.Separator))
				if !strings.HasPrefix(msg, tt.problems[i]) {
					t.Errorf("problem %d: got %q, want prefix %q", i, msg, tt.problems[i])
				}
			}
		})
	}
}

func TestLoadConvertsToV1(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  hostnames: [a.example.com]\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := Load(dir)
	if err != nil || len(snap.Manifests) != 1 {
		t.Fatalf("load: %v %v", snap, err)
	}
	r, ok := snap.Manifests[0].Object.(*gwv1.HTTPRoute)
	if !ok {
		t.Fatalf("got %T, want *v1.HTTPRoute", snap.Manifests[0].Object)
	}
	if r.APIVersion != "gateway.networking.k8s.io/v1" || r.Spec.Hostnames[0] != "a.example.com" {
		t.Errorf("converted route: %s %v", r.APIVersion, r.Spec.Hostnames)
	}
}

func TestLoadMissingDir(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

func itoa(i int) string { return Source{Line: i}.String()[1:] }

// FuzzDecode: no input crashes the loader, and every problem points at a line of the file.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{gateway, brokenSeed, "---\n---\n", "kind: List\napiVersion: v1\nitems: [{}]\n", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"ports":[{"port":"x"}]}}`} {
		f.Add([]byte(seed))
	}
	d := newDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, doc := range splitDocuments(data) {
			_, probs := d.decode("f.yaml", doc)
			for _, p := range probs {
				if p.Line < 1 || p.Line > lines {
					t.Errorf("problem at line %d of a %d-line file: %v", p.Line, lines, p)
				}
			}
		}
	})
}

const brokenSeed = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n  rules:\n  - backendRefz: []\n  - matches: [{path: {type: 3}}]\n"
