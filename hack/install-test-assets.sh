#!/usr/bin/env bash
# Builds the binaries the integration tests run (kube-apiserver, kube-controller-manager, etcd)
# from the Go module proxy, and installs staticcheck and controller-gen. Everything lands in
# bin/ (git-ignored) and is rebuilt only when missing, so warm runs cost nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
assets="$root/bin/envtest"
tools="$root/bin"
mkdir -p "$assets"

K8S_VERSION=v1.36.3
STATICCHECK_VERSION=v0.7.0
CONTROLLER_GEN_VERSION=v0.20.1

ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 \
-X k8s.io/client-go/pkg/version.gitMinor=36"

build() { # build <output> <package> <ldflags>
	local out=$1 pkg=$2 flags=$3
	if [ -x "$assets/$out" ]; then return; fi
	echo "building $out ($pkg); the first build takes a few minutes" >&2
	local start=$SECONDS
	(cd "$root/hack/envtest" && CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$assets/$out.tmp" "$pkg")
	mv "$assets/$out.tmp" "$assets/$out"
	echo "built $out in $((SECONDS - start))s" >&2
}

build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ld"
build etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ld"

install_tool() { # install_tool <binary> <module/pkg@version>
	if [ -x "$tools/$1" ]; then return; fi
	echo "installing $2" >&2
	GOBIN="$tools" go install "$2"
}
install_tool staticcheck "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
install_tool controller-gen "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"

# Headless Chromium for the console's browser test (internal/locallattice/console), from Debian.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
	echo "installing chromium" >&2
	if [ "$(id -u)" = 0 ]; then apt-get install -y chromium >&2; else sudo apt-get install -y chromium >&2; fi || echo "could not install chromium; the console's browser test will skip" >&2
fi
