// Package file is the standalone provider: it reads the Kubernetes manifests of a folder (the
// objects a user would `kubectl apply`), feeds them to translate, applies the model with deploy,
// and writes statuses back, watching the folder so that edits take effect at once.
//
// Unlike an API server, nothing validates the manifests before they reach us, so Load decodes
// strictly and reports every problem with its file and line; a bad manifest is skipped and the
// rest keeps working.
package file

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/yaml"
)

// Object is a Kubernetes object read from a manifest.
type Object interface {
	metav1.Object
	runtime.Object
}

// Source is where a manifest, or a part of it, was written.
type Source struct {
	File string
	Line int
}

func (s Source) String() string { return s.File + ":" + strconv.Itoa(s.Line) }

// Problem is a manifest that was skipped, and why.
type Problem struct {
	Source
	Err error
}

func (p Problem) Error() string { return p.Source.String() + ": " + p.Err.Error() }

// Manifest is one decoded object and where it came from.
type Manifest struct {
	Source
	Object Object
}

// Snapshot is the content of a folder at one moment.
type Snapshot struct {
	// Manifests in file order (files sorted by path), older Gateway API versions converted to v1.
	Manifests []Manifest
	Problems  []Problem
}

var manifestExt = []string{".yaml", ".yml", ".json"}

// Load reads every .yaml, .yml and .json file under dir, recursively, skipping dot-directories
// and the directories in skip (such as a status output folder inside dir). An error is returned
// only when dir itself cannot be read; bad manifests become Problems.
func Load(dir string, skip ...string) (*Snapshot, error) {
	d := newDecoder()
	snap := &Snapshot{}
	seen := map[string]Source{}
	skipAbs := make([]string, 0, len(skip))
	for _, s := range skip {
		if a, err := filepath.Abs(s); err == nil {
			skipAbs = append(skipAbs, a)
		}
	}
	walk := func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			snap.Problems = append(snap.Problems, Problem{Source{path, 0}, err})
			return nil
		}
		if e.IsDir() {
			abs, _ := filepath.Abs(path)
			if path != dir && (strings.HasPrefix(e.Name(), ".") || slices.Contains(skipAbs, abs)) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") || !slices.Contains(manifestExt, strings.ToLower(filepath.Ext(path))) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			snap.Problems = append(snap.Problems, Problem{Source{path, 0}, fmt.Errorf("read: %w", err)})
			return nil
		}
		for _, doc := range splitDocuments(data) {
			ms, probs := d.decode(path, doc)
			snap.Problems = append(snap.Problems, probs...)
			for _, m := range ms {
				key := objectKey(m.Object)
				if first, dup := seen[key]; dup {
					snap.Problems = append(snap.Problems, Problem{m.Source, fmt.Errorf("%s is already defined at %s", key, first)})
					continue
				}
				seen[key] = m.Source
				snap.Manifests = append(snap.Manifests, m)
			}
		}
		return nil
	}
	if err := filepath.WalkDir(dir, walk); err != nil {
		return nil, fmt.Errorf("read manifests in %s: %w", dir, err)
	}
	return snap, nil
}

// objectKey names an object the way kubectl does: Kind namespace/name.
func objectKey(o Object) string {
	kind := o.GetObjectKind().GroupVersionKind().Kind
	if o.GetNamespace() == "" {
		return kind + " " + o.GetName()
	}
	return kind + " " + o.GetNamespace() + "/" + o.GetName()
}

// document is one YAML document of a file; line is the file line of its first line.
type document struct {
	data []byte
	line int
}

// fileLine turns a 1-based line of the document into a line of the file. Parsers report errors
// at the end of input one line past the last, so the result is kept within the document.
func (d document) fileLine(n int) int {
	last := d.line + max(bytes.Count(bytes.TrimRight(d.data, "\n"), []byte("\n")), 0)
	return min(max(d.line+n-1, d.line), last)
}

// splitDocuments splits a multi-document YAML file on "---" lines, remembering where each
// document starts so that errors can name file lines.
func splitDocuments(data []byte) []document {
	var docs []document
	start, line := 1, 1
	var cur bytes.Buffer
	flush := func(next int) {
		if !blank(cur.Bytes()) {
			docs = append(docs, document{data: bytes.Clone(cur.Bytes()), line: start})
		}
		cur.Reset()
		start = next
	}
	for len(data) > 0 {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		trimmed := bytes.TrimRight(l, " \t\r\n")
		if bytes.Equal(trimmed, []byte("---")) || bytes.HasPrefix(trimmed, []byte("--- ")) {
			flush(line + 1)
		} else {
			cur.Write(l)
		}
		line++
	}
	flush(line)
	return docs
}

// blank reports whether a document holds only whitespace and comments.
func blank(doc []byte) bool {
	for l := range bytes.Lines(doc) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

type decoder struct {
	scheme *runtime.Scheme
	strict *json.Serializer
}

func newDecoder() *decoder {
	s := NewScheme()
	return &decoder{
		scheme: s,
		strict: json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true}),
	}
}

var yamlLine = regexp.MustCompile(`yaml: (?:unmarshal errors:\s*)?line (\d+): (.*)$`)

// decode turns one document into objects: one, or the items of a List.
func (d *decoder) decode(file string, doc document) ([]Manifest, []Problem) {
	src := Source{file, doc.line + firstContentLine(doc.data)}
	fail := func(err error) ([]Manifest, []Problem) { return nil, []Problem{{src, err}} }

	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc.data, &tm); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return nil, []Problem{{Source{file, doc.fileLine(n)}, fmt.Errorf("invalid YAML: %s", m[2])}}
		}
		return fail(fmt.Errorf("invalid YAML: %w", err))
	}
	switch {
	case tm.Kind == "":
		return fail(errors.New("missing kind"))
	case tm.APIVersion == "":
		return fail(fmt.Errorf("%s: missing apiVersion", tm.Kind))
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	if !d.scheme.Recognizes(gvk) {
		return fail(fmt.Errorf("unknown kind %s in apiVersion %s", tm.Kind, tm.APIVersion))
	}
	obj, _, err := d.strict.Decode(doc.data, nil, nil)
	if err != nil {
		return nil, d.decodeProblems(file, doc, src, tm.Kind, err)
	}
	if list, ok := obj.(*corev1.List); ok {
		return d.decodeList(file, doc, src, list)
	}
	o, err := normalize(obj)
	if err != nil {
		return fail(err)
	}
	return []Manifest{{src, o}}, nil
}

func (d *decoder) decodeList(file string, doc document, src Source, list *corev1.List) ([]Manifest, []Problem) {
	var out []Manifest
	var probs []Problem
	for i, item := range list.Items {
		ms, ps := d.decode(file, document{data: item.Raw, line: doc.line})
		for j := range ps {
			ps[j].Source = src
			ps[j].Err = fmt.Errorf("items[%d]: %w", i, ps[j].Err)
		}
		out, probs = append(out, ms...), append(probs, ps...)
	}
	return out, probs
}

var (
	strictField = regexp.MustCompile(`(unknown|duplicate) field "([^"]+)"`)
	typeField   = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.(\S+) of type (\S+)`)
)

// decodeProblems turns a decoding error into problems pointing at the offending field's line
// when the error names a field, else at the document.
func (d *decoder) decodeProblems(file string, doc document, src Source, kind string, err error) []Problem {
	at := func(path string) Source {
		if n := fieldLine(doc.data, path); n > 0 {
			return Source{file, doc.fileLine(n)}
		}
		return src
	}
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		var probs []Problem
		for _, e := range se.Errors() {
			if m := strictField.FindStringSubmatch(e.Error()); m != nil {
				probs = append(probs, Problem{at(m[2]), fmt.Errorf("%s: %s field %s", kind, m[1], m[2])})
				continue
			}
			if m := yamlLine.FindStringSubmatch(e.Error()); m != nil {
				n, _ := strconv.Atoi(m[1])
				probs = append(probs, Problem{Source{file, doc.fileLine(n)}, fmt.Errorf("%s: %s", kind, m[2])})
				continue
			}
			probs = append(probs, Problem{src, fmt.Errorf("%s: %w", kind, e)})
		}
		return probs
	}
	if m := typeField.FindStringSubmatch(err.Error()); m != nil {
		return []Problem{{at(m[1]), fmt.Errorf("%s: field %s must be of type %s", kind, m[1], m[2])}}
	}
	return []Problem{{src, fmt.Errorf("%s: %w", kind, err)}}
}

// firstContentLine is the 0-based offset of the first line that is neither blank nor a comment,
// where a user looks for "the object".
func firstContentLine(doc []byte) int {
	n := 0
	for l := range bytes.Lines(doc) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' {
			return n
		}
		n++
	}
	return 0
}
