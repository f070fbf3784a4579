package dataplane

// The test helpers that sdk_test.go uses from package dataplane_test, where it can start Local
// Lattice through locallatticetest (which imports this package).
var (
	StartBackend = startBackend
	Get          = get
	MustRequest  = mustRequest
	Eventually   = eventually
	SplitLines   = splitLines
	ClientFor    = clientFor
)

const TestPortOffset = testPortOffset

func (b *backend) Hits() int64 { return b.hits.Load() }

func (b *backend) SetSick(sick bool) { b.sick.Store(sick) }
