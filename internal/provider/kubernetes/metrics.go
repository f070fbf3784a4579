package kubernetes

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/promreg"
)

// metrics are the controller's own Prometheus series, next to controller-runtime's and the
// deployer's aws_api_* series.
type metrics struct {
	statusWrites   *prometheus.CounterVec
	metadataWrites *prometheus.CounterVec
	convergence    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.statusWrites, err = promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lattice_gateway_status_writes_total",
		Help: "Status updates written to the API server, by object kind.",
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	if m.metadataWrites, err = promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lattice_gateway_metadata_writes_total",
		Help: "Finalizer and annotation patches written to the API server, by object kind.",
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	if m.convergence, err = promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lattice_gateway_route_convergence_seconds",
		Help:    "Time from the controller seeing a new route generation to the route being Programmed in VPC Lattice.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	return m, nil
}
