package model

// Owner identifies one controller instance in AWS. Its ManagedBy value tags every Lattice
// resource the instance creates, and only resources carrying it are ever changed or deleted.
type Owner struct {
	AccountID   string
	ClusterName string
	// VPCID is the cluster's VPC: that of every target group and of the service-network VPC
	// association.
	VPCID string
}

// ManagedBy is the ownership tag value, <account>/<cluster>/<vpc>, as upstream writes it.
func (o Owner) ManagedBy() string { return o.AccountID + "/" + o.ClusterName + "/" + o.VPCID }
