package model

import "testing"

func TestManagedBy(t *testing.T) {
	o := Owner{AccountID: "123456789012", ClusterName: "my-cluster", VPCID: "vpc-0123456789abcdef0"}
	if got, want := o.ManagedBy(), "123456789012/my-cluster/vpc-0123456789abcdef0"; got != want {
		t.Errorf("ManagedBy() = %q, want %q", got, want)
	}
}
