// Package kubernetes is the Kubernetes provider: a controller-runtime controller that hands the
// informer cache to a pipeline pass (translate, deploy, statuses) and writes what the pass decided
// back: finalizers, annotations, statuses and events.
//
// Translation is a pure function of the whole world, so there is one reconcile key for
// everything ("the world"): bursts of events coalesce in the workqueue into one translate and one
// Apply, and the deployer's cache makes unchanged parts cost no API call. EndpointSlice events
// take a cheaper path keyed by Service: re-translate, check that only targets changed, and sync
// the targets of that Service's target groups alone.
package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Deployer is the part of deploy.Deployer the controller uses.
type Deployer interface {
	pipeline.Deployer
	Refresh(ctx context.Context) error
}

// Options configure the controller.
type Options struct {
	Translate translate.Config
	Deployer  Deployer
	// CRDs are the optional kinds to watch and read (see CheckCRDs); others are left out.
	CRDs CRDs
	Log  logr.Logger
	// Registry receives the controller's metrics; default controller-runtime's registry, which
	// the manager serves on its metrics address.
	Registry prometheus.Registerer
	// ResyncPeriod, when positive, makes the leader re-read all owned Lattice state that often
	// and run a world pass, which repairs drift.
	ResyncPeriod time.Duration
	// Name distinguishes controllers when several run in one process (tests); default
	// "lattice-gateway".
	Name string
	// ReadinessGate reads pods, so that gated pods that are not ready yet become targets.
	ReadinessGate bool
}

// worldKey is the single reconcile key of everything except targets. Target keys are Services,
// which always have a namespace, so they cannot collide with it.
var worldKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "world"}}

// Controller reconciles the whole Gateway API world into VPC Lattice.
type Controller struct {
	client   client.Client
	deployer Deployer
	pipeline *pipeline.Pipeline
	log      logr.Logger
	events   events.EventRecorder
	metrics  *metrics

	// kick asks for a world pass from inside a targets pass, so that failures are retried (with
	// backoff) under the one world key instead of once per Service.
	kick chan event.GenericEvent
	// optional are the optional kinds served, read into every snapshot.
	optional []optionalKind
	// readinessGate makes snapshots list the gated pods.
	readinessGate bool

	mu sync.Mutex
	// seen records when each route generation was first observed, for the convergence histogram.
	seen map[model.RouteKey]generationSeen
}

type generationSeen struct {
	generation int64
	at         time.Time
}

// Setup registers the controller with mgr. It runs only on the elected leader (controller-runtime
// controllers are leader-election runnables), so only the leader writes to Lattice and statuses.
func Setup(mgr ctrl.Manager, o Options) (*Controller, error) {
	if o.Registry == nil {
		o.Registry = ctrlmetrics.Registry
	}
	if o.Name == "" {
		o.Name = "lattice-gateway"
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		client:   mgr.GetClient(),
		deployer: o.Deployer,
		// Only the reconciler (one worker) runs passes, as the pipeline requires.
		pipeline: pipeline.New(o.Translate, o.Deployer),
		log:      o.Log,
		events:   mgr.GetEventRecorder(o.Name),
		metrics:  m,
		seen:     map[model.RouteKey]generationSeen{},
		kick:     make(chan event.GenericEvent, 1),

		readinessGate: o.ReadinessGate,
	}
	for _, k := range optionalKinds {
		if o.CRDs[k.resource] {
			c.optional = append(c.optional, k)
		}
	}
	world := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{worldKey}
	})
	routeWorld := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		c.observeGeneration(obj)
		return []reconcile.Request{worldKey}
	})
	targets := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		svc := obj.GetLabels()[discoveryv1.LabelServiceName]
		if svc == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: svc}}}
	})
	// Our own status writes change neither generation nor metadata, so they do not requeue.
	specOrMeta := builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
		predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionChanged{}))
	b := ctrl.NewControllerManagedBy(mgr).
		Named(o.Name).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: 1,
			// Lattice waits happen inside Apply; a failed pass is a Lattice or API server error
			// worth a pause before the next attempt.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](250*time.Millisecond, 5*time.Minute),
		}).
		WatchesRawSource(source.Channel(c.kick, world)).
		Watches(&gwv1.GatewayClass{}, world, specOrMeta).
		Watches(&gwv1.Gateway{}, world, specOrMeta).
		Watches(&gwv1.HTTPRoute{}, routeWorld, specOrMeta).
		Watches(&gwv1.GRPCRoute{}, routeWorld, specOrMeta).
		Watches(&gwv1.TLSRoute{}, routeWorld, specOrMeta).
		Watches(&gwv1beta1.ReferenceGrant{}, world, specOrMeta).
		Watches(&corev1.Namespace{}, world, builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, deletionChanged{}))).
		Watches(&corev1.Service{}, world, builder.WithPredicates(serviceChanged{})).
		// Listener certificateRefs; the cache holds kubernetes.io/tls Secrets only (see run.go).
		Watches(&corev1.Secret{}, world, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&discoveryv1.EndpointSlice{}, targets)
	for _, k := range c.optional {
		b = b.Watches(k.object, world, specOrMeta)
	}
	if err := b.Complete(c); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	if cp, ok := o.Deployer.(checkpointer); ok {
		// A plain runnable needs leader election: the leader tags what it applied as it stops,
		// while it still holds the lease.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			c.checkpoint(cp)
			return nil
		})); err != nil {
			return nil, fmt.Errorf("add checkpoint: %w", err)
		}
	}
	if o.ResyncPeriod > 0 {
		// A plain runnable needs leader election, so only the leader refreshes.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			c.resync(ctx, o.ResyncPeriod)
			return nil
		})); err != nil {
			return nil, fmt.Errorf("add resync: %w", err)
		}
	}
	return c, nil
}

// checkpointer is the deployer's graceful stop (deploy.Deployer.Checkpoint): spec hash tags that
// spare the next start the reads of what did not change.
type checkpointer interface {
	Checkpoint(ctx context.Context) (int, error)
}

// checkpointTimeout bounds the graceful stop's tagging, well inside the manager's shutdown
// timeout; what it does not reach is read at the next start.
const checkpointTimeout = 15 * time.Second

func (c *Controller) checkpoint(cp checkpointer) {
	ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
	defer cancel()
	n, err := cp.Checkpoint(ctx)
	if err != nil {
		c.log.Error(err, "checkpoint spec hash tags", "written", n)
		return
	}
	c.log.Info("checkpoint: spec hash tags written", "written", n)
}

// resync refreshes the deployer's view of Lattice every period and asks for a world pass, whose
// Apply then puts back whatever was changed or deleted behind the controller's back.
func (c *Controller) resync(ctx context.Context, period time.Duration) {
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := c.deployer.Refresh(ctx); err != nil {
				c.log.Error(err, "refresh Lattice state for drift detection")
				continue
			}
			c.kickWorld()
		}
	}
}

// deletionChanged passes updates that set a deletion timestamp: deleting an object does not
// change the generation of built-in kinds, and the controller must release its finalizer.
type deletionChanged struct{ predicate.Funcs }

func (deletionChanged) Update(e event.UpdateEvent) bool {
	return (e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil)
}

// serviceChanged ignores Service status updates (load-balancer ingress) that cannot change the
// model. Services have no generation, so the spec is compared.
type serviceChanged struct{ predicate.Funcs }

func (serviceChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Service)
	n, ok2 := e.ObjectNew.(*corev1.Service)
	if !ok1 || !ok2 {
		return true
	}
	return !equality.Semantic.DeepEqual(o.Spec, n.Spec) || !maps.Equal(o.Labels, n.Labels) || !maps.Equal(o.Annotations, n.Annotations)
}

// Reconcile dispatches between the world and the targets of one Service.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if req == worldKey {
		refresh, err := c.reconcileWorld(ctx)
		return reconcile.Result{RequeueAfter: refresh}, err
	}
	return reconcile.Result{}, c.reconcileTargets(ctx, req.NamespacedName)
}

// observeGeneration remembers when a route generation was first seen.
func (c *Controller) observeGeneration(obj client.Object) {
	key, ok := pipeline.RouteKey(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.seen[key]; !ok || s.generation != obj.GetGeneration() {
		c.seen[key] = generationSeen{generation: obj.GetGeneration(), at: time.Now()}
	}
}

// programmedRoute observes the convergence time of a route generation the first time it is
// reported Programmed.
func (c *Controller) programmedRoute(key model.RouteKey, generation int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.seen[key]
	if !ok || s.generation != generation {
		return
	}
	c.metrics.convergence.WithLabelValues(string(key.Kind)).Observe(time.Since(s.at).Seconds())
	delete(c.seen, key)
}

// forgetRoutes drops the convergence bookkeeping of routes that are gone or being deleted, so it
// stays bounded by the number of live routes.
func (c *Controller) forgetRoutes(pass *pipeline.Pass) {
	keep := map[model.RouteKey]bool{}
	for _, obj := range pass.Objects() {
		if key, isRoute := pipeline.RouteKey(obj); isRoute && obj.GetDeletionTimestamp() == nil {
			keep[key] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.seen {
		if !keep[k] {
			delete(c.seen, k)
		}
	}
}
