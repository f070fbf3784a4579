// Package multicluster lays the hotel walkthrough out over two clusters, for `lattice-gateway
// demo --multi-cluster`: cluster-b runs inventory-ver2 and exports it (ServiceExport), cluster-a
// runs everything else, imports inventory-ver2 (ServiceImport) and splits the inventory route
// 50/50 between its own inventory-ver1 and the import.
package multicluster

import "embed"

// Manifests are the files each cluster adds to the hotel's, under cluster-a/ and cluster-b/.
//
//go:embed cluster-a/*.yaml cluster-b/*.yaml
var Manifests embed.FS

// Cluster is one cluster's folder: the files of examples/hotel it takes, then those of its own
// folder in Manifests.
type Cluster struct {
	Name      string
	HotelFile []string
}

// Clusters are the two clusters, the importing one (where the route and parking run) first.
// Each takes the hotel's EndpointSlices file whole: a slice whose Service is in the other
// cluster selects nothing here, as in Kubernetes.
var Clusters = []Cluster{
	{Name: "cluster-a", HotelFile: []string{"gatewayclass.yaml", "my-hotel-gateway.yaml", "parking.yaml", "review.yaml",
		"inventory-ver1.yaml", "rate-route-path.yaml", "standalone/endpointslices.yaml"}},
	{Name: "cluster-b", HotelFile: []string{"inventory-ver2.yaml", "standalone/endpointslices.yaml"}},
}
