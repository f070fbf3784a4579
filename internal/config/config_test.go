package config

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/go-logr/logr"
	"github.com/spf13/pflag"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestBindFlagsEnvAndFlagPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want Controller
	}{
		{
			name: "defaults",
			want: Controller{Lattice: Lattice{LogLevel: "info", LatticeAPIConcurrency: DefaultLatticeAPIConcurrency}, KubeAPIQPS: DefaultKubeAPIQPS, KubeAPIBurst: DefaultKubeAPIBurst, MetricsBindAddress: ":8080", HealthProbeBindAddress: ":8081", LeaderElectionID: LeaderElectionID,
				WebhookPort: 9443, WebhookCertDir: "/etc/webhook-cert"},
		},
		{
			name: "environment",
			env: map[string]string{EnvClusterVPCID: "vpc-1", EnvRegion: "us-west-2", EnvAccountID: "123456789012", EnvClusterName: "c",
				EnvDefaultServiceNetwork: "sn", EnvEnableServiceNetworkOverride: "true", EnvLatticeEndpoint: "http://127.0.0.1:1", EnvLogLevel: "debug",
				EnvResyncSeconds: "300", EnvDisableTaggingServiceAPI: "true", EnvWebhookEnabled: "true"},
			want: Controller{Lattice: Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-1"}, Region: "us-west-2",
				DefaultServiceNetwork: "sn", EnableServiceNetworkOverride: true, LatticeEndpoint: "http://127.0.0.1:1", LogLevel: "debug",
				LatticeAPIConcurrency: DefaultLatticeAPIConcurrency, DisableTaggingServiceAPI: true},
				KubeAPIQPS: DefaultKubeAPIQPS, KubeAPIBurst: DefaultKubeAPIBurst, MetricsBindAddress: ":8080", HealthProbeBindAddress: ":8081", LeaderElectionID: LeaderElectionID, ResyncPeriod: 5 * time.Minute,
				WebhookEnabled: true, WebhookPort: 9443, WebhookCertDir: "/etc/webhook-cert"},
		},
		{
			name: "flags win over environment",
			env:  map[string]string{EnvRegion: "us-west-2", EnvClusterName: "from-env"},
			args: []string{"--region=eu-west-1", "--leader-elect", "--resync-period=90s", "--leader-election-namespace=kube-system", "--metrics-bind-address=0", "--kubeconfig=/k", "--kube-api-qps=7.5", "--kube-api-burst=9",
				"--lattice-api-max-tps=5", "--lattice-api-concurrency=16"},
			want: Controller{Lattice: Lattice{Region: "eu-west-1", Owner: model.Owner{ClusterName: "from-env"}, LogLevel: "info", LatticeAPIMaxTPS: 5, LatticeAPIConcurrency: 16}, Kubeconfig: "/k", KubeAPIQPS: 7.5, KubeAPIBurst: 9,
				MetricsBindAddress: "0", HealthProbeBindAddress: ":8081", LeaderElect: true, LeaderElectionNamespace: "kube-system", LeaderElectionID: LeaderElectionID,
				ResyncPeriod: 90 * time.Second, WebhookPort: 9443, WebhookCertDir: "/etc/webhook-cert"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Controller
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			c.BindFlags(fs, env(tt.env))
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if c != tt.want {
				t.Errorf("got  %+v\nwant %+v", c, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "us-west-2"}
	tests := []struct {
		name    string
		mutate  func(*Lattice)
		wantErr []string
	}{
		{name: "valid", mutate: func(*Lattice) {}},
		{name: "all missing", mutate: func(l *Lattice) { *l = Lattice{} },
			wantErr: []string{"CLUSTER_VPC_ID is not set", "REGION is not set", "AWS_ACCOUNT_ID is not set", "CLUSTER_NAME is not set"}},
		{name: "bad account", mutate: func(l *Lattice) { l.AccountID = "12ab" }, wantErr: []string{"not a 12-digit account ID"}},
		{name: "bad VPC ID", mutate: func(l *Lattice) { l.VPCID = "vpc-smoke" }, wantErr: []string{`CLUSTER_VPC_ID "vpc-smoke" is not a VPC ID`}},
		{name: "long VPC ID", mutate: func(l *Lattice) { l.VPCID = "vpc-0123456789abcdef0" }},
		{name: "bad endpoint", mutate: func(l *Lattice) { l.LatticeEndpoint = "127.0.0.1:8686" }, wantErr: []string{"not an http(s) URL"}},
		{name: "negative rate ceiling", mutate: func(l *Lattice) { l.LatticeAPIMaxTPS = -1 }, wantErr: []string{"--lattice-api-max-tps -1 must not be negative"}},
		{name: "negative concurrency", mutate: func(l *Lattice) { l.LatticeAPIConcurrency = -2 }, wantErr: []string{"--lattice-api-concurrency -2 must not be negative"}},
		{name: "bad log level", mutate: func(l *Lattice) { l.LogLevel = "verbose" }, wantErr: []string{"LOG_LEVEL"}},
		{name: "override without default network", mutate: func(l *Lattice) { l.EnableServiceNetworkOverride = true },
			wantErr: []string{"ENABLE_SERVICE_NETWORK_OVERRIDE needs DEFAULT_SERVICE_NETWORK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := valid
			tt.mutate(&l)
			err := l.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// fakeIMDS answers the IMDSv2 token and metadata paths the controller uses.
func fakeIMDS(t *testing.T, fail bool) (*imds.Client, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if fail {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		switch r.URL.Path {
		case "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			_, _ = w.Write([]byte("token"))
		case "/latest/meta-data/placement/region":
			_, _ = w.Write([]byte("eu-central-1"))
		case "/latest/dynamic/instance-identity/document":
			_, _ = w.Write([]byte(`{"accountId":"210987654321","region":"eu-central-1","instanceId":"i-1"}`))
		case "/latest/meta-data/mac":
			_, _ = w.Write([]byte("0a:1b:2c:3d:4e:5f"))
		case "/latest/meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id":
			_, _ = w.Write([]byte("vpc-0abc1234\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return imds.New(imds.Options{Endpoint: srv.URL}), &calls
}

func TestCompleteDiscoversFromIMDS(t *testing.T) {
	tests := []struct {
		name      string
		in        Lattice
		fail      bool
		want      Lattice
		wantCalls bool
		wantErr   string
	}{
		{
			name: "everything given: IMDS not contacted",
			in:   Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "us-west-2", LatticeEndpoint: "http://127.0.0.1:8686"},
			want: Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "us-west-2", LatticeEndpoint: "http://127.0.0.1:8686"},
		},
		{
			name:      "missing values discovered",
			in:        Lattice{Owner: model.Owner{ClusterName: "c"}},
			want:      Lattice{Owner: model.Owner{AccountID: "210987654321", ClusterName: "c", VPCID: "vpc-0abc1234"}, Region: "eu-central-1"},
			wantCalls: true,
		},
		{
			name:      "only region missing",
			in:        Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}},
			want:      Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "eu-central-1"},
			wantCalls: true,
		},
		{
			name:    "no cluster name: IMDS not contacted",
			in:      Lattice{},
			wantErr: "CLUSTER_NAME is not set",
		},
		{
			name:      "IMDS unavailable",
			in:        Lattice{Owner: model.Owner{ClusterName: "c"}},
			fail:      true,
			wantCalls: true,
			wantErr:   "set REGION, AWS_ACCOUNT_ID and CLUSTER_VPC_ID",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, calls := fakeIMDS(t, tt.fail)
			l := tt.in
			err := l.Complete(context.Background(), client, logr.Discard())
			if (calls.Load() > 0) != tt.wantCalls {
				t.Errorf("IMDS calls = %d, want calls: %v", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l != tt.want {
				t.Errorf("got  %+v\nwant %+v", l, tt.want)
			}
		})
	}
}

func TestAWSConfigUsesDummyCredentialsForLocalLattice(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	tests := []struct {
		endpoint string
		wantKey  string
	}{
		{"http://127.0.0.1:8686", "local"},
		{"http://localhost:8686", "local"},
		{"http://[::1]:8686", "local"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			l := Lattice{Region: "us-west-2", LatticeEndpoint: tt.endpoint}
			cfg, err := l.AWSConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != tt.wantKey || cfg.Region != "us-west-2" {
				t.Errorf("got key %q region %q", creds.AccessKeyID, cfg.Region)
			}
		})
	}
}

func TestControllerValidate(t *testing.T) {
	c := Controller{Lattice: Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "us-west-2"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.ResyncPeriod = -time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), EnvResyncSeconds) {
		t.Errorf("negative resync period: %v", err)
	}
}
