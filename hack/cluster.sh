#!/usr/bin/env bash
# Start the test cluster (etcd, kube-apiserver, kube-controller-manager, Gateway API and
# lattice-gateway CRDs, kubelet simulator) and keep it running until Ctrl-C.
#   hack/cluster.sh [-f MANIFEST_DIR] [-v 1]
# It prints `export KUBECONFIG=...` on stdout; paste it into another shell to use kubectl.
# Needs bin/envtest from hack/install-test-assets.sh (make test-assets).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x bin/envtest/kube-controller-manager ]]; then
	echo "bin/envtest is missing: run make test-assets first" >&2
	exit 1
fi
go build -o bin/testcluster ./test/cluster/cmd/testcluster
exec bin/testcluster "$@"
