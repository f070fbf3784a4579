package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// folderCluster is one -f argument of run: a folder of manifests and the cluster it stands for.
type folderCluster struct {
	dir   string
	owner model.Owner
}

// parseFolders turns run's -f arguments into clusters. One folder is the cluster of the identity
// flags (--cluster-name, --cluster-vpc-id). Several are several clusters, each "[NAME=]DIR":
// named NAME or after the folder, in its own VPC vpc-<17 hex digits of the name's SHA-256>, all
// in the account of --account-id, so that exports of one are imports of another.
func parseFolders(args []string, base model.Owner) ([]folderCluster, error) {
	if len(args) == 1 && !strings.Contains(args[0], "=") {
		return []folderCluster{{dir: args[0], owner: base}}, nil
	}
	var out []folderCluster
	seen := map[string]bool{}
	for _, a := range args {
		name, dir, named := strings.Cut(a, "=")
		if !named {
			name, dir = filepath.Base(filepath.Clean(a)), a
		}
		if name == "" || dir == "" || seen[name] {
			return nil, fmt.Errorf("-f %s: want [CLUSTER=]DIR with a distinct cluster name per folder", a)
		}
		seen[name] = true
		out = append(out, folderCluster{dir: dir, owner: clusterOwner(name, base)})
	}
	return out, nil
}

// clusterOwner is the identity of cluster name among several: its own VPC
// vpc-<17 hex digits of the name's SHA-256>, in base's account.
func clusterOwner(name string, base model.Owner) model.Owner {
	sum := sha256.Sum256([]byte(name))
	return model.Owner{AccountID: base.AccountID, ClusterName: name, VPCID: "vpc-" + hex.EncodeToString(sum[:])[:17]}
}
