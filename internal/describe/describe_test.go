package describe

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
)

// goldenCase is one testdata/*.in.yaml: what to describe, the manifests (read through the file
// provider's loader, as `describe -f` does) and the Lattice state.
type goldenCase struct {
	Describe  Ref     `json:"describe"`
	Manifests string  `json:"manifests"`
	Lattice   Lattice `json:"lattice"`
}

// TestGolden renders each case as the text a user sees and the -o yaml report.
func TestGolden(t *testing.T) {
	for _, name := range golden.Cases(t, "testdata") {
		t.Run(name, func(t *testing.T) {
			var c goldenCase
			if err := yaml.UnmarshalStrict(golden.Input(t, "testdata", name), &c); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "manifests.yaml"), []byte(c.Manifests), 0o644); err != nil {
				t.Fatal(err)
			}
			objs, err := FromFolder(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := Build(c.Describe, objs, &c.Lattice)
			var text, report bytes.Buffer
			if err := Write(&text, r, FormatText); err != nil {
				t.Fatal(err)
			}
			if err := Write(&report, r, FormatYAML); err != nil {
				t.Fatal(err)
			}
			var parsed any
			if err := yaml.Unmarshal(report.Bytes(), &parsed); err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(map[string]any{"text": text.String(), "report": parsed})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata", name, out)
		})
	}
}

func TestWriteRejectsUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, &Report{}, "xml"); err == nil {
		t.Error("format xml accepted")
	}
}
