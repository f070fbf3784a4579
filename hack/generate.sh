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

mkdir -p "$out/api/v1alpha1" "$out/config/crd/bases" "$out/config/rbac" "$out/config/manifests" \
	"$out/charts/lattice-gateway/crds" "$out/charts/lattice-gateway/files"

cd "$root"
"$gen" object paths=./api/... output:object:dir="$out/api/v1alpha1"
"$gen" crd:crdVersions=v1 paths=./api/... output:crd:dir="$out/config/crd/bases"
"$gen" rbac:roleName=lattice-gateway paths=./api/... output:rbac:dir="$out/config/rbac"

# Helm installs CRDs only from the chart's crds/ and reads files only inside the chart, so the
# generated CRDs and rules are copied in; the copies are checked by test/packaging like the rest.
rm -f "$out"/charts/lattice-gateway/crds/*.yaml
cp "$out"/config/crd/bases/*.yaml "$out/charts/lattice-gateway/crds/"
cp "$out/config/rbac/role.yaml" "$out/charts/lattice-gateway/files/role.yaml"

# Render from the chart as it is in $out when generating elsewhere, so a check sees the output of
# the copied rules, not of the committed ones.
chart="$root/charts/lattice-gateway"
if [ "$out" != "$root" ]; then
	cp -r "$root/charts/lattice-gateway/." "$out/charts/lattice-gateway.tmp"
	cp "$out/charts/lattice-gateway/files/role.yaml" "$out/charts/lattice-gateway.tmp/files/role.yaml"
	rm -f "$out"/charts/lattice-gateway.tmp/crds/*.yaml
	cp "$out"/charts/lattice-gateway/crds/*.yaml "$out/charts/lattice-gateway.tmp/crds/"
	chart="$out/charts/lattice-gateway.tmp"
fi
(cd "$root/test/packaging" && go run ./cmd/render -chart "$chart" -out "$out/config/manifests/lattice-gateway.yaml")
if [ "$out" != "$root" ]; then rm -rf "$out/charts/lattice-gateway.tmp"; fi
