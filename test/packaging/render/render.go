// Package render renders and lints the lattice-gateway Helm chart with the Helm Go SDK, the same
// code paths as `helm template` and `helm lint`, so neither a helm binary nor a cluster is needed.
package render

import (
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// KubeVersion is the Kubernetes version the chart is rendered and linted for: the one the tests'
// kube-apiserver runs.
const KubeVersion = "v1.36.3"

// Options name the release. Values override the chart's values.yaml.
type Options struct {
	ReleaseName string
	Namespace   string
	Values      map[string]any
}

// Chart renders the templates of the chart in dir like `helm template` (CRDs excluded: Helm
// installs them from crds/ untemplated) and returns the manifests as one YAML stream, in Helm's
// install order.
func Chart(dir string, opts Options) ([]byte, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	kv, err := common.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("parse kube version: %w", err)
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName = opts.ReleaseName
	install.Namespace = opts.Namespace
	install.KubeVersion = kv
	install.DisableHooks = true
	vals := opts.Values
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := install.Run(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", dir, err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("render chart %s: unexpected release type %T", dir, rel)
	}
	// Helm starts every document with a separator; drop the first so the stream can be appended.
	manifest := strings.TrimPrefix(strings.TrimSpace(r.Manifest), "---\n")
	return []byte(manifest + "\n"), nil
}

// Lint runs `helm lint --strict` on the chart in dir with the given values and returns every
// finding of warning severity or worse.
func Lint(dir, namespace string, values map[string]any) []support.Message {
	kv, err := common.ParseKubeVersion(KubeVersion)
	if err != nil {
		return []support.Message{support.NewMessage(support.ErrorSev, dir, err)}
	}
	if values == nil {
		values = map[string]any{}
	}
	var bad []support.Message
	for _, m := range lint.RunAll(dir, values, namespace, lint.WithKubeVersion(kv)).Messages {
		if m.Severity >= support.WarningSev {
			bad = append(bad, m)
		}
	}
	return bad
}
