package harness

import (
	"embed"
	"strings"
	"testing"
	"text/template"
)

// testdata holds the manifests the integration tests share. A name ending in .tmpl is a
// text/template filled with the data given to Manifest.
//
//go:embed testdata
var testdata embed.FS

// Manifest returns testdata/name, filled with data when it is a template.
func Manifest(t testing.TB, name string, data any) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".tmpl") {
		return string(b)
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, data); err != nil {
		t.Fatalf("manifest %s: %v", name, err)
	}
	return out.String()
}
