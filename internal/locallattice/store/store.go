package store

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// Options configure a Store.
type Options struct {
	Region    string
	AccountID string
	// StateFile, when set, is loaded at start and rewritten atomically after every change.
	StateFile string
	// DrainingDelay is how long a deregistered target stays DRAINING before it disappears.
	DrainingDelay time.Duration
	Logger        logr.Logger
	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time
}

// Token remembers the outcome of a create call made with an idempotency token.
type Token struct {
	Hash   string
	Status int
	Body   []byte
}

// Pending is a scheduled status transition: at Due the resource becomes ACTIVE, or disappears
// when Delete is set.
type Pending struct {
	Due    time.Time
	Delete bool
}

// State is the whole mutable configuration. It is only touched inside View and Update.
type State struct {
	ServiceNetworks        map[string]*ServiceNetwork
	Services               map[string]*Service
	Listeners              map[string]*Listener
	Rules                  map[string]*Rule
	TargetGroups           map[string]*TargetGroup
	ServiceAssociations    map[string]*ServiceNetworkServiceAssociation
	VPCAssociations        map[string]*ServiceNetworkVpcAssociation
	AuthPolicies           map[string]*AuthPolicy // by resource ID
	ResourcePolicies       map[string]string      // by resource ARN
	AccessLogSubscriptions map[string]*AccessLogSubscription
	Certificates           map[string]*Certificate // Local ACM, by certificate ID
	Tokens                 map[string]Token        // by operation + "/" + client token
	Pending                map[string]Pending      // by resource ID
}

func newState() *State {
	return &State{
		ServiceNetworks:        map[string]*ServiceNetwork{},
		Services:               map[string]*Service{},
		Listeners:              map[string]*Listener{},
		Rules:                  map[string]*Rule{},
		TargetGroups:           map[string]*TargetGroup{},
		ServiceAssociations:    map[string]*ServiceNetworkServiceAssociation{},
		VPCAssociations:        map[string]*ServiceNetworkVpcAssociation{},
		AuthPolicies:           map[string]*AuthPolicy{},
		ResourcePolicies:       map[string]string{},
		AccessLogSubscriptions: map[string]*AccessLogSubscription{},
		Certificates:           map[string]*Certificate{},
		Tokens:                 map[string]Token{},
		Pending:                map[string]Pending{},
	}
}

// Store is Local Lattice's state. Writers serialise on a mutex; the data plane reads an immutable
// snapshot through an atomic pointer. The snapshot is rebuilt by the first Snapshot call after a
// change rather than by every change, so a burst of API calls costs one rebuild, not one each;
// only that first reader takes a (read) lock.
type Store struct {
	opts      Options
	log       logr.Logger
	mu        sync.RWMutex
	st        *State
	version   uint64
	snap      atomic.Pointer[Snapshot]
	stale     atomic.Bool
	rebuildMu sync.Mutex
	closed    bool
	timers    map[*time.Timer]struct{}

	subMu  sync.Mutex
	subs   map[int]func()
	nextID int
}

var _ DataPlaneSource = (*Store)(nil)

// New returns a store, loading Options.StateFile when it exists.
func New(o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{opts: o, log: o.Logger, st: newState(), timers: map[*time.Timer]struct{}{}, subs: map[int]func(){}}
	if o.StateFile != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.settleLocked(true)
	for _, p := range s.st.Pending {
		s.scheduleLocked(p.Due)
	}
	for _, tg := range s.st.TargetGroups {
		for _, t := range tg.Targets {
			if t.Status == TargetDraining {
				s.scheduleLocked(t.DrainingUntil)
			}
		}
	}
	s.rebuildLocked()
	s.mu.Unlock()
	return s, nil
}

// Region is the region resources are created in.
func (s *Store) Region() string { return s.opts.Region }

// AccountID is the account that owns every resource.
func (s *Store) AccountID() string { return s.opts.AccountID }

// Now is the store's clock, in UTC and whole milliseconds like the timestamps AWS returns.
func (s *Store) Now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// View runs fn with read access to the state; fn must not modify it or keep references.
func (s *Store) View(fn func(*State)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.st)
}

// ErrUnchanged, returned by an Update function, ends the update successfully without rebuilding,
// persisting or notifying, for calls that turn out to change nothing.
var ErrUnchanged = errors.New("unchanged")

// Update runs fn with write access. fn must check everything before it modifies anything: when it
// returns an error the state must be unchanged. After a successful fn the snapshot goes stale
// (the next Snapshot rebuilds it), the state file is rewritten and subscribers are called.
func (s *Store) Update(fn func(*State) error) error {
	changed, err := s.update(fn)
	if changed {
		s.notify()
	}
	return err
}

// update holds the lock with a defer, so that a panicking fn can't leave the store locked.
func (s *Store) update(fn func(*State) error) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(s.st); err != nil {
		if errors.Is(err, ErrUnchanged) {
			return false, nil
		}
		return false, err
	}
	s.settleLocked(false)
	return true, s.commitLocked()
}

// Schedule arranges for the transitions and drained targets due at the given time to be applied
// then.
func (s *Store) Schedule(due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduleLocked(due)
}

func (s *Store) scheduleLocked(due time.Time) {
	if s.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(max(due.Sub(s.Now()), 0), func() {
		s.mu.Lock()
		delete(s.timers, t)
		if s.closed || !s.settleLocked(true) {
			s.mu.Unlock()
			return
		}
		err := s.commitLocked()
		s.mu.Unlock()
		if err != nil {
			s.log.Error(err, "persist state after a scheduled transition")
		}
		s.notify()
	})
	s.timers[t] = struct{}{}
}

// Close stops pending timers; the state stays readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = nil
	return nil
}

// Snapshot implements DataPlaneSource.
func (s *Store) Snapshot() *Snapshot {
	if !s.stale.Load() {
		return s.snap.Load()
	}
	s.rebuildMu.Lock()
	defer s.rebuildMu.Unlock()
	if s.stale.Load() {
		s.mu.RLock()
		// Cleared only once the new snapshot is stored: readers on the fast path above would
		// otherwise take the previous one while this rebuild runs. No writer can mark the state
		// stale again before RUnlock.
		s.rebuildLocked()
		s.stale.Store(false)
		s.mu.RUnlock()
	}
	return s.snap.Load()
}

// Subscribe implements DataPlaneSource.
func (s *Store) Subscribe(fn func()) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

func (s *Store) notify() {
	s.subMu.Lock()
	fns := make([]func(), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// SetTargetHealth implements DataPlaneSource. Draining targets keep their status.
func (s *Store) SetTargetHealth(targetGroupID, targetID string, port int32, status, reasonCode string) {
	s.mu.Lock()
	changed := false
	if tg := s.st.TargetGroups[targetGroupID]; tg != nil {
		for i := range tg.Targets {
			t := &tg.Targets[i]
			if t.ID == targetID && t.Port == port && t.Status != TargetDraining &&
				(t.Status != status || t.ReasonCode != reasonCode) {
				t.Status, t.ReasonCode = status, reasonCode
				changed = true
			}
		}
	}
	if !changed {
		s.mu.Unlock()
		return
	}
	err := s.commitLocked()
	s.mu.Unlock()
	if err != nil {
		s.log.Error(err, "persist state after a health change")
	}
	s.notify()
}

// Version counts committed changes. Call it inside View or Update, where it names the state
// the function sees, to key caches derived from that state.
func (s *Store) Version() uint64 { return s.version }

// DrainingDelay is how long deregistered targets stay DRAINING; 0 removes them at once.
func (s *Store) DrainingDelay() time.Duration { return s.opts.DrainingDelay }

func (s *Store) commitLocked() error {
	s.version++
	s.stale.Store(true)
	if s.opts.StateFile == "" {
		return nil
	}
	return s.saveLocked()
}

// settleLocked applies due transitions and, when drain is set, drops drained targets; it reports
// whether anything changed. Only New and the timers scan for drained targets, because that walks
// every target and targets only finish draining when a timer fires.
func (s *Store) settleLocked(drain bool) bool {
	now := s.Now()
	changed := false
	for id, p := range s.st.Pending {
		if p.Due.After(now) {
			continue
		}
		delete(s.st.Pending, id)
		changed = true
		if p.Delete {
			s.st.remove(id)
		} else {
			s.st.activate(id)
		}
	}
	if !drain {
		return changed
	}
	for _, tg := range s.st.TargetGroups {
		kept := tg.Targets[:0]
		for _, t := range tg.Targets {
			if t.Status == TargetDraining && !t.DrainingUntil.After(now) {
				changed = true
				continue
			}
			kept = append(kept, t)
		}
		tg.Targets = kept
	}
	return changed
}

func (st *State) activate(id string) {
	if r := st.Services[id]; r != nil {
		r.Status = StatusActive
	}
	if r := st.TargetGroups[id]; r != nil {
		r.Status = StatusActive
	}
	if r := st.ServiceAssociations[id]; r != nil {
		r.Status = StatusActive
	}
	if r := st.VPCAssociations[id]; r != nil {
		r.Status = StatusActive
	}
}

func (st *State) remove(id string) {
	switch {
	case st.Services[id] != nil:
		st.DeleteService(id)
	case st.TargetGroups[id] != nil:
		st.DeleteTargetGroup(id)
	default:
		st.DeleteAssociation(id)
	}
}

// Status values shared by services, target groups and associations.
const (
	StatusActive           = "ACTIVE"
	StatusCreateInProgress = "CREATE_IN_PROGRESS"
	StatusUpdateInProgress = "UPDATE_IN_PROGRESS"
	StatusDeleteInProgress = "DELETE_IN_PROGRESS"
)

// Target status values.
const (
	TargetInitial     = "INITIAL"
	TargetHealthy     = "HEALTHY"
	TargetUnhealthy   = "UNHEALTHY"
	TargetUnavailable = "UNAVAILABLE"
	TargetUnused      = "UNUSED"
	TargetDraining    = "DRAINING"
)

// DeleteServiceNetwork removes a service network with its auth policy, resource policy and
// access-log subscriptions.
func (st *State) DeleteServiceNetwork(id string) {
	sn := st.ServiceNetworks[id]
	if sn == nil {
		return
	}
	st.deleteAttachments(id, sn.ARN)
	delete(st.ServiceNetworks, id)
}

// DeleteService removes a service with its listeners, rules and attachments.
func (st *State) DeleteService(id string) {
	svc := st.Services[id]
	if svc == nil {
		return
	}
	for lid, l := range st.Listeners {
		if l.ServiceID == id {
			st.DeleteListener(lid)
		}
	}
	st.deleteAttachments(id, svc.ARN)
	delete(st.Services, id)
	delete(st.Pending, id)
}

func (st *State) deleteAttachments(id, arn string) {
	delete(st.AuthPolicies, id)
	delete(st.ResourcePolicies, arn)
	for aid, a := range st.AccessLogSubscriptions {
		if a.ResourceID == id {
			delete(st.AccessLogSubscriptions, aid)
		}
	}
}

// DeleteListener removes a listener and its rules.
func (st *State) DeleteListener(id string) {
	for rid, r := range st.Rules {
		if r.ListenerID == id {
			delete(st.Rules, rid)
		}
	}
	delete(st.Listeners, id)
}

// DeleteTargetGroup removes a target group.
func (st *State) DeleteTargetGroup(id string) {
	delete(st.TargetGroups, id)
	delete(st.Pending, id)
}

// DeleteAssociation removes a service or VPC association.
func (st *State) DeleteAssociation(id string) {
	delete(st.ServiceAssociations, id)
	delete(st.VPCAssociations, id)
	delete(st.Pending, id)
}

// TargetGroupUsers maps each target group ID to the IDs of the services whose listener default
// actions or rules forward to it, sorted.
func (st *State) TargetGroupUsers() map[string][]string {
	seen := map[string]map[string]bool{}
	add := func(a RuleAction, svc string) {
		if a.Forward == nil {
			return
		}
		for _, w := range a.Forward.TargetGroups {
			if seen[w.TargetGroupIdentifier] == nil {
				seen[w.TargetGroupIdentifier] = map[string]bool{}
			}
			seen[w.TargetGroupIdentifier][svc] = true
		}
	}
	for _, l := range st.Listeners {
		add(l.DefaultAction, l.ServiceID)
	}
	for _, r := range st.Rules {
		add(r.Action, r.ServiceID)
	}
	out := make(map[string][]string, len(seen))
	for tg, svcs := range seen {
		ids := make([]string, 0, len(svcs))
		for id := range svcs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out[tg] = ids
	}
	return out
}

// TargetGroupInUse reports whether a listener default action or rule forwards to target group
// id: TargetGroupUsers for one target group, without building the whole map (ListTargets asks it
// on every call).
func (st *State) TargetGroupInUse(id string) bool {
	forwardsTo := func(a RuleAction) bool {
		return a.Forward != nil && slices.ContainsFunc(a.Forward.TargetGroups, func(w WeightedTargetGroup) bool { return w.TargetGroupIdentifier == id })
	}
	for _, l := range st.Listeners {
		if forwardsTo(l.DefaultAction) {
			return true
		}
	}
	for _, r := range st.Rules {
		if forwardsTo(r.Action) {
			return true
		}
	}
	return false
}

// HealthCheckEnabled reports whether targets of tg are health-checked: explicitly configured, or
// by default only for HTTP/HTTPS target groups speaking HTTP1 (never for LAMBDA and ALB).
func HealthCheckEnabled(tg *TargetGroup) bool {
	if tg.Type == "LAMBDA" || tg.Type == "ALB" || tg.Config == nil {
		return false
	}
	if hc := tg.Config.HealthCheck; hc != nil && hc.Enabled != nil {
		return *hc.Enabled
	}
	return tg.Config.Protocol != "TCP" && (tg.Config.ProtocolVersion == "" || tg.Config.ProtocolVersion == "HTTP1")
}

// EffectiveTargetStatus is the status ListTargets shows: DRAINING wins, then UNUSED for a target
// group no service uses, UNAVAILABLE without health checks, else the reported health.
func EffectiveTargetStatus(tg *TargetGroup, used bool, t Target) string {
	switch {
	case t.Status == TargetDraining:
		return TargetDraining
	case !used:
		return TargetUnused
	case !HealthCheckEnabled(tg):
		return TargetUnavailable
	case t.Status == "" || t.Status == TargetUnused || t.Status == TargetUnavailable:
		return TargetInitial
	}
	return t.Status
}

func (s *Store) rebuildLocked() {
	st := s.st
	snap := &Snapshot{Version: s.version, Region: s.opts.Region, AccountID: s.opts.AccountID,
		ServiceNetworks:        values(st.ServiceNetworks),
		Services:               values(st.Services),
		Listeners:              values(st.Listeners),
		Rules:                  values(st.Rules),
		TargetGroups:           values(st.TargetGroups),
		ServiceAssociations:    values(st.ServiceAssociations),
		VPCAssociations:        values(st.VPCAssociations),
		AuthPolicies:           values(st.AuthPolicies),
		AccessLogSubscriptions: values(st.AccessLogSubscriptions),
		Certificates:           values(st.Certificates),
	}
	used := st.usedTargetGroups()
	for i := range snap.TargetGroups {
		tg := &snap.TargetGroups[i]
		targets := make([]Target, len(tg.Targets))
		for j, t := range tg.Targets {
			t.Status = EffectiveTargetStatus(tg, used[tg.ID], t)
			targets[j] = t
		}
		tg.Targets = targets
	}
	s.snap.Store(snap)
}

// values copies a map's values in key order. The copies share nested pointers with the state,
// which is why handlers replace nested values instead of changing them in place.
func values[V any](m map[string]*V) []V {
	out := make([]V, 0, len(m))
	for _, k := range SortedKeys(m) {
		out = append(out, *m[k])
	}
	return out
}

// usedTargetGroups is the set of target groups some listener default action or rule forwards to.
func (st *State) usedTargetGroups() map[string]bool {
	used := map[string]bool{}
	mark := func(a RuleAction) {
		if a.Forward != nil {
			for _, w := range a.Forward.TargetGroups {
				used[w.TargetGroupIdentifier] = true
			}
		}
	}
	for _, l := range st.Listeners {
		mark(l.DefaultAction)
	}
	for _, r := range st.Rules {
		mark(r.Action)
	}
	return used
}

// SortedKeys returns a map's keys in order, so snapshots and listings are deterministic.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// saveLocked writes the state to a temporary file in the same directory, syncs it and renames it
// over the state file, so a crash leaves either the old or the new state, never a torn one.
func (s *Store) saveLocked() error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(s.st); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(s.opts.StateFile)
	f, err := os.CreateTemp(dir, filepath.Base(s.opts.StateFile)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.opts.StateFile)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save state to %s: %w", s.opts.StateFile, err)
	}
	// Sync the directory too, so the rename itself survives a power cut.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (s *Store) load() error {
	data, err := os.ReadFile(s.opts.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	st := newState()
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(st); err != nil {
		return fmt.Errorf("decode state file %s: %w", s.opts.StateFile, err)
	}
	// gob leaves maps that were empty when saved as nil.
	fresh := newState()
	fillNil(&st.ServiceNetworks, fresh.ServiceNetworks)
	fillNil(&st.Services, fresh.Services)
	fillNil(&st.Listeners, fresh.Listeners)
	fillNil(&st.Rules, fresh.Rules)
	fillNil(&st.TargetGroups, fresh.TargetGroups)
	fillNil(&st.ServiceAssociations, fresh.ServiceAssociations)
	fillNil(&st.VPCAssociations, fresh.VPCAssociations)
	fillNil(&st.AuthPolicies, fresh.AuthPolicies)
	fillNil(&st.ResourcePolicies, fresh.ResourcePolicies)
	fillNil(&st.AccessLogSubscriptions, fresh.AccessLogSubscriptions)
	fillNil(&st.Certificates, fresh.Certificates)
	fillNil(&st.Tokens, fresh.Tokens)
	fillNil(&st.Pending, fresh.Pending)
	s.st = st
	return nil
}

func fillNil[V any](m *map[string]V, empty map[string]V) {
	if *m == nil {
		*m = empty
	}
}
