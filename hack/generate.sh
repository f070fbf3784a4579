#!/usr/bin/env bash
# Regenerates everything derived from api/v1alpha1 and charts/lattice-gateway:
#   api/v1alpha1/zz_generated.deepcopy.go   controller-gen object
#   config/crd/bases/*.yaml                 controller-gen crd (copied to charts/lattice-gateway/crds)
#   config/rbac/role.yaml                   controller-gen rbac (copied to charts/lattice-gateway/files)
#   config/manifests/lattice-gateway.yaml   the chart rendered with default values, for kubectl apply
# With an argument, writes into that directory instead of the repository (test/packaging uses this
# to check that the committed files are current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
gen="$root/bin/controller-gen"
if [ ! -x "$gen" ]; then
	echo "bin/controller-gen not found: run hack/install-test-assets.sh" >&2
	exit 1
fi

chart="$out/charts/lattice-gateway"
mkdir -p "$out/api/v1alpha1" "$out/config/crd/bases" "$out/config/rbac" "$out/config/manifests" "$chart"
if [ "$out" != "$root" ]; then
	# Render the chart as it would be with the freshly generated files, not the committed ones.
	cp -r "$root/charts/lattice-gateway/." "$chart/"
fi

cd "$root"
"$gen" object paths=./api/... output:object:dir="$out/api/v1alpha1"
"$gen" crd:crdVersions=v1 paths=./api/... output:crd:dir="$out/config/crd/bases"
"$gen" rbac:roleName=lattice-gateway paths=./api/... output:rbac:dir="$out/config/rbac"

# Helm installs CRDs only from the chart's crds/ and reads files only inside the chart, so the
# generated CRDs and rules are copied in; test/packaging checks the copies like the rest.
mkdir -p "$chart/crds" "$chart/files"
rm -f "$chart"/crds/*.yaml
cp "$out"/config/crd/bases/*.yaml "$chart/crds/"
cp "$out/config/rbac/role.yaml" "$chart/files/role.yaml"

(cd "$root/test/packaging" && go run ./cmd/render -chart "$chart" -out "$out/config/manifests/lattice-gateway.yaml")
