// Package api is Local Lattice's control plane: the VPC Lattice REST API (restJson1, the wire
// protocol of aws-sdk-go-v2/service/vpclattice and `aws vpc-lattice`) over a store.Store, with
// server-side validation, real error shapes, idempotency tokens, pagination, quotas, asynchronous
// states, fault injection and per-operation call counters.
//
// Embedding it in a test:
//
//	srv, err := api.Open(api.Options{Region: "us-west-2", AccountID: "123456789012"})
//	if err != nil { ... }
//	if err := srv.Start("127.0.0.1:0"); err != nil { ... }
//	defer srv.Close()
//	client := vpclattice.New(vpclattice.Options{
//		Region:       "us-west-2",
//		BaseEndpoint: aws.String(srv.URL()),
//		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
//	})
//	...
//	calls := srv.Counts()          // API calls by operation and status code
//	calls.Op("CreateService"); calls.Mutating(); srv.ResetCounts()
//
// srv.Store() is the store.DataPlaneSource for the data plane; srv.AdminHandler() serves
// /metrics, /healthz, /counters and /faults. Options.BindFlags registers the command-line flags
// of `lattice-gateway local`.
package api
