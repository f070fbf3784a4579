// Package api is Local Lattice's control plane: the VPC Lattice REST API (restJson1, the wire
// protocol of aws-sdk-go-v2/service/vpclattice and `aws vpc-lattice`) over a store.Store, with
// server-side validation, real error shapes, idempotency tokens, pagination, quotas, asynchronous
// states, fault injection and per-operation call counters.
//
// Start it with locallattice.Start, or in a test with locallatticetest:
//
//	ll := locallatticetest.Start(t, locallattice.Options{})
//	ll.Client.CreateService(ctx, ...) // a real SDK client of ll.API
//	srv := ll.API
//	...
//	calls := srv.Counts()          // API calls by operation and status code
//	calls.Op("CreateService"); calls.Mutating(); srv.ResetCounts()
//
// srv.Store() is the store.DataPlaneSource for the data plane; srv.AdminHandler() serves
// /metrics, /healthz, /counters and /faults. Options.BindFlags registers the command-line flags
// of `lattice-gateway local`.
package api
