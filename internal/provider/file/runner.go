package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Deployer is the part of *deploy.Deployer the runner uses.
type Deployer interface {
	pipeline.Deployer
	Plan(ctx context.Context, m *model.Model) (*deploy.Plan, error)
	Refresh(ctx context.Context) error
}

// Config configures a Runner.
type Config struct {
	// Dir holds the manifests, read recursively.
	Dir string
	// StatusDir, when set, receives every Gateway API object with its status (see WriteStatus).
	StatusDir string
	Translate translate.Config
	Deployer  Deployer
	// ListenerAddr tells where a Lattice listener port is served on this machine (Local Lattice's
	// data plane); nil means the service's DNS name is the address (real VPC Lattice).
	ListenerAddr func(port int32) string
	// Debounce is how long the folder must be quiet before a change is applied (default 200ms).
	Debounce time.Duration
	// RetryInitial is the first delay before retrying a failed apply; it doubles up to 30s
	// (default 1s).
	RetryInitial time.Duration
	// ResyncPeriod, when positive, re-reads the owned Lattice state that often and re-applies,
	// repairing changes made behind the runner's back (drift detection, as the controller's
	// --resync-period).
	ResyncPeriod time.Duration
	// OnPlan, when set, is called with the plan before each apply that changes something, so a
	// user sees what is being created while it happens.
	OnPlan func(*deploy.Plan)
	// OnReport is called after every reconcile.
	OnReport func(*Report)
	Log      logr.Logger
	// Now is the clock for condition transition times (default time.Now).
	Now func() time.Time
}

// Runner keeps VPC Lattice in line with a folder of manifests.
type Runner struct {
	cfg      Config
	pipeline *pipeline.Pipeline
	// objects remembers every object by key across reloads: the generation bookkeeping an API
	// server would do, the last good version of objects whose file became unreadable, and the
	// statuses already written (so transition times survive).
	objects map[string]*tracked
	// problems seen last time, so each is logged once, not on every reload.
	problems map[string]bool
}

type tracked struct {
	obj    Object
	source Source
	hash   string
}

// New returns a Runner; Run starts it.
func New(cfg Config) *Runner {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 200 * time.Millisecond
	}
	if cfg.RetryInitial <= 0 {
		cfg.RetryInitial = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg, pipeline: pipeline.New(cfg.Translate, cfg.Deployer), objects: map[string]*tracked{}, problems: map[string]bool{}}
}

// Run reconciles once, then again after every change in the folder, after failures (with
// backoff) and when import resolutions go stale, until ctx ends. It returns nil when ctx ends; Lattice resources are left in place,
// so a restart (with Local Lattice's --state-file) resumes where it stopped.
func (r *Runner) Run(ctx context.Context) error {
	w, err := newWatcher(r.cfg.Dir, r.cfg.Debounce, r.cfg.Log, r.skip()...)
	if err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	go w.run(ctx, changed)
	var resync <-chan time.Time
	if r.cfg.ResyncPeriod > 0 {
		t := time.NewTicker(r.cfg.ResyncPeriod)
		defer t.Stop()
		resync = t.C
	}
	delay := r.cfg.RetryInitial
	var retry <-chan time.Time
	for {
		rep := r.Reconcile(ctx)
		if ctx.Err() != nil {
			return nil
		}
		retry = nil
		var refresh <-chan time.Time
		if rep.RefreshAfter > 0 {
			refresh = time.After(rep.RefreshAfter)
		}
		if rep.Err != nil || !rep.settled() {
			retry = time.After(delay)
			delay = min(2*delay, 30*time.Second)
		} else {
			delay = r.cfg.RetryInitial
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			delay = r.cfg.RetryInitial
		case <-retry:
		case <-refresh:
		case <-resync:
			if err := r.cfg.Deployer.Refresh(ctx); err != nil {
				r.cfg.Log.Error(err, "re-read Lattice state")
			}
		}
	}
}

func (r *Runner) skip() []string {
	if r.cfg.StatusDir == "" {
		return nil
	}
	return []string{r.cfg.StatusDir}
}

// Reconcile reads the folder, translates, applies and records statuses once.
func (r *Runner) Reconcile(ctx context.Context) *Report {
	rep := &Report{At: r.cfg.Now()}
	defer func() {
		if r.cfg.OnReport != nil && ctx.Err() == nil { // an interrupted pass reports nothing new
			r.cfg.OnReport(rep)
		}
	}()
	snap, err := Load(r.cfg.Dir, r.skip()...)
	if err != nil {
		rep.Err = err
		return rep
	}
	rep.Problems = snap.Problems
	r.logProblems(snap.Problems)
	objs := r.track(snap)
	pass := r.pipeline.Translate(Input(objs))

	if r.cfg.OnPlan != nil {
		if p, err := r.cfg.Deployer.Plan(ctx, &pass.Output.Model); err == nil && p.Len() > 0 {
			r.cfg.OnPlan(p)
		}
	}
	r.pipeline.Deploy(ctx, pass)
	if pass.Err != nil {
		rep.Err = fmt.Errorf("apply to VPC Lattice: %w", pass.Err)
		r.cfg.Log.Error(pass.Err, "apply to VPC Lattice")
	}
	r.recordStatus(pass)
	rep.RefreshAfter = pass.RefreshAfter()
	rep.Rows = rows(objs, pass, r.cfg.ListenerAddr)
	if r.cfg.StatusDir != "" {
		if err := r.writeStatus(); err != nil {
			rep.Err = errors.Join(rep.Err, err)
			r.cfg.Log.Error(err, "write statuses", "dir", r.cfg.StatusDir)
		}
	}
	return rep
}

func (r *Runner) logProblems(probs []Problem) {
	now := map[string]bool{}
	for _, p := range probs {
		msg := p.Error()
		now[msg] = true
		if !r.problems[msg] {
			r.cfg.Log.Info("skipping manifest", "problem", msg)
		}
	}
	r.problems = now
}

// track merges a snapshot into the remembered objects and returns the current ones, in file
// order. Objects that disappeared from a file that now has problems are kept in their last good
// version: a half-typed edit must not delete a live Lattice service.
func (r *Runner) track(snap *Snapshot) []Object {
	broken := map[string]bool{}
	for _, p := range snap.Problems {
		broken[p.File] = true
	}
	current := map[string]bool{}
	var objs []Object
	for _, m := range snap.Manifests {
		key := objectKey(m.Object)
		current[key] = true
		if _, ignored := m.Object.(*appsv1.Deployment); ignored {
			r.cfg.Log.V(1).Info("Deployment ignored in standalone mode: its pods are the EndpointSlices' addresses", "object", key, "source", m.Source.String())
		}
		objs = append(objs, r.observe(key, m))
	}
	for key, t := range r.objects {
		if current[key] {
			continue
		}
		if broken[t.source.File] {
			objs = append(objs, t.obj)
			continue
		}
		delete(r.objects, key)
	}
	return objs
}

// observe does what an API server does on apply: a new object gets a creation time and UID, a
// changed one a new generation, and the status is the one last written.
func (r *Runner) observe(key string, m Manifest) Object {
	o := m.Object.DeepCopyObject().(Object)
	hash := specHash(o)
	t, ok := r.objects[key]
	switch {
	case !ok:
		o.SetGeneration(1)
		o.SetCreationTimestamp(metav1.NewTime(r.cfg.Now().Truncate(time.Second)))
		o.SetUID(newUID(key, o.GetCreationTimestamp().Time))
		clearStatus(o)
	default:
		prev := t.obj
		o.SetGeneration(prev.GetGeneration())
		if t.hash != hash {
			o.SetGeneration(prev.GetGeneration() + 1)
		}
		o.SetCreationTimestamp(prev.GetCreationTimestamp())
		o.SetUID(prev.GetUID())
		copyStatus(prev, o)
	}
	r.objects[key] = &tracked{obj: o, source: m.Source, hash: hash}
	return o
}

// newUID is unique per object incarnation, like an API server's: an object deleted and created
// again gets another one.
func newUID(key string, created time.Time) types.UID {
	sum := sha256.Sum256([]byte(key + "\x00" + created.Format(time.RFC3339Nano)))
	h := hex.EncodeToString(sum[:16])
	return types.UID(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

// specHash identifies the desired state of an object: everything but metadata and status, as an
// API server bumps metadata.generation only for spec changes.
func specHash(o Object) string {
	var m map[string]any
	b, err := json.Marshal(o)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return "unhashable"
	}
	delete(m, "metadata")
	delete(m, "status")
	b, _ = json.Marshal(m)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Plan reads cfg.Dir, translates it and asks cfg.Deployer what applying it would do, changing
// nothing. The report holds the manifest problems and the statuses Translate decided (routes and
// gateways Translate rejects are not in the plan).
func Plan(ctx context.Context, cfg Config) (*deploy.Plan, *Report, error) {
	r := New(cfg)
	rep := &Report{At: r.cfg.Now()}
	snap, err := Load(cfg.Dir, r.skip()...)
	if err != nil {
		return nil, nil, err
	}
	rep.Problems = snap.Problems
	objs := r.track(snap)
	pass := r.pipeline.Translate(Input(objs))
	p, err := cfg.Deployer.Plan(ctx, &pass.Output.Model)
	if err != nil {
		return nil, rep, fmt.Errorf("plan: %w", err)
	}
	r.recordStatus(pass)
	rep.Rows = rows(objs, pass, nil)
	return p, rep, nil
}
