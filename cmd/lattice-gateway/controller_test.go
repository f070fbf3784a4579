package main

import (
	"strings"
	"testing"
)

// TestControllerExitsOnMissingConfiguration runs the subcommand as a user would and expects the
// error to name what to set, before anything is contacted.
func TestControllerExitsOnMissingConfiguration(t *testing.T) {
	for _, k := range []string{"CLUSTER_VPC_ID", "REGION", "AWS_ACCOUNT_ID", "CLUSTER_NAME", "LATTICE_ENDPOINT", "LOG_LEVEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string
	}{
		{name: "nothing set", args: []string{"controller"}, wantErr: []string{"CLUSTER_NAME is not set (or --cluster-name)"}},
		{name: "invalid values from flags and environment", env: map[string]string{"LOG_LEVEL": "loud"},
			args:    []string{"controller", "--cluster-name=c", "--region=us-west-2", "--aws-account-id=12", "--cluster-vpc-id=vpc-1"},
			wantErr: []string{"AWS_ACCOUNT_ID \"12\" is not a 12-digit account ID", "LOG_LEVEL \"loud\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			root := newRootCmd()
			root.SetArgs(tt.args)
			err := root.Execute()
			if err == nil {
				t.Fatal("controller started without a valid configuration")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
