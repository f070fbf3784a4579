package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// maxBody bounds request bodies; the largest legal one (an auth policy) is well below it.
const maxBody = 1 << 20

// Server is the VPC Lattice REST API over a store. It is an http.Handler; Start also serves it.
type Server struct {
	store    *store.Store
	ownStore bool
	opts     Options
	quotas   Quotas
	log      logr.Logger
	faults   faultInjector
	counters *counters
	tagIndex tagIndex

	mu       sync.Mutex
	httpSrv  *http.Server
	listener net.Listener
	adminSrv *http.Server
	adminLn  net.Listener

	adminOnce sync.Once
	adminMux  *http.ServeMux
}

// New returns the API over st. Region and account come from the store.
func New(st *store.Store, o Options) *Server {
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	s := &Server{store: st, opts: o, quotas: o.Quotas.withDefaults(), log: o.Logger, counters: newCounters()}
	s.faults.f = o.Faults
	return s
}

// Open creates the store described by o (loading its state file) and the API over it; Close
// closes both.
func Open(o Options) (*Server, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	st, err := store.New(o.StoreOptions())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := New(st, o)
	s.ownStore = true
	return s, nil
}

// Store is the store the server writes to (the data plane's DataPlaneSource).
func (s *Server) Store() *store.Store { return s.store }

// Start serves the API on addr ("" or "127.0.0.1:0" picks a free loopback port) until Close.
func (s *Server) Start(addr string) error {
	srv, ln, err := s.serve(addr, s)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.httpSrv, s.listener = srv, ln
	s.mu.Unlock()
	return nil
}

// StartAdmin serves AdminHandler on addr until Close.
func (s *Server) StartAdmin(addr string) error {
	srv, ln, err := s.serve(addr, s.AdminHandler())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.adminSrv, s.adminLn = srv, ln
	s.mu.Unlock()
	return nil
}

func (s *Server) serve(addr string, h http.Handler) (*http.Server, net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(err, "server stopped", "addr", ln.Addr().String())
		}
	}()
	return srv, ln, nil
}

// AdminAddr is the address StartAdmin listens on ("" before StartAdmin).
func (s *Server) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Addr is the address Start listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// URL is the endpoint to give the SDK (BaseEndpoint) or the CLI (--endpoint-url).
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops serving and, when Open created the store, closes it.
func (s *Server) Close() error {
	s.mu.Lock()
	servers := []*http.Server{s.httpSrv, s.adminSrv}
	s.httpSrv, s.listener, s.adminSrv, s.adminLn = nil, nil, nil, nil
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for _, srv := range servers {
		if srv != nil {
			err = errors.Join(err, srv.Shutdown(ctx))
		}
	}
	if s.ownStore {
		err = errors.Join(err, s.store.Close())
	}
	return err
}

// Instructions tell a user how to point the SDK and the CLI at the running API.
func (s *Server) Instructions() string {
	url, region := s.URL(), s.store.Region()
	return fmt.Sprintf(`Local Lattice VPC Lattice API on %[1]s (region %[2]s, account %[3]s)
admin (metrics, counters, faults) on http://%[4]s

Point the AWS SDK at it (any access key works; requests must be signed):
  export AWS_ENDPOINT_URL_VPC_LATTICE=%[1]s AWS_REGION=%[2]s
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
Or the AWS CLI:
  aws vpc-lattice list-services --endpoint-url %[1]s --region %[2]s
The same URL serves Local ACM and the Resource Groups Tagging API:
  aws acm list-certificates --endpoint-url %[1]s --region %[2]s
  aws resourcegroupstaggingapi get-resources --endpoint-url %[1]s --region %[2]s
`, url, region, s.store.AccountID(), s.AdminAddr())
}

// Counts returns the API calls served since the start or the last ResetCounts.
func (s *Server) Counts() Counts { return s.counters.snapshot() }

// ResetCounts zeroes Counts (not the Prometheus counters).
func (s *Server) ResetCounts() { s.counters.reset() }

// Faults returns the current fault-injection settings.
func (s *Server) Faults() Faults { return s.faults.get() }

// SetFaults replaces the fault-injection settings.
func (s *Server) SetFaults(f Faults) error { return s.faults.set(f) }

// call is one decoded request.
type call struct {
	op     string
	params map[string]string
	query  url.Values
	body   []byte
}

func (c *call) decode(v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return cannotParse(err)
	}
	return nil
}

// ServeHTTP serves one API call: route, authenticate, inject faults, run, count.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op, code, proto := "Unknown", 0, requestProtocol(r)
	defer func() { s.counters.record(op, code, time.Since(start)) }()

	rt, params, err := resolve(r)
	if err != nil {
		code = proto.writeError(w, err)
		return
	}
	op = rt.op
	if rt.proto != nil {
		proto = rt.proto
	}
	accessKey, authErr := s.checkAuthorization(r.Header.Get("Authorization"))
	if authErr != nil {
		code = proto.writeError(w, authErr)
		return
	}
	s.log.V(1).Info("call", "operation", op, "accessKey", accessKey)
	if err := s.faults.admit(op); err != nil {
		code = proto.writeError(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		code = proto.writeError(w, validationError("cannotParse", "request body unreadable or larger than 1 MiB", nil))
		return
	}
	if proto.cbor {
		if body, err = cborToJSON(body); err != nil {
			code = proto.writeError(w, err)
			return
		}
	}
	c := &call{op: op, params: params, query: r.URL.Query(), body: body}
	status, out, err := s.run(rt, c)
	if err != nil {
		code = proto.writeError(w, err)
		return
	}
	code = status
	proto.writeJSON(w, status, out)
}

// run calls the operation, turning a panic into an InternalServerException so that no input
// can take the server down.
func (s *Server) run(rt *route, c *call) (status int, out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error(fmt.Errorf("panic: %v", p), "operation failed", "operation", c.op)
			status, out, err = 0, nil, internalError("internal error")
		}
	}()
	return rt.handler(s, c)
}

// checkAuthorization accepts any SigV4 Authorization header whose credential scope names this
// region (signatures are not verified) and rejects requests without one, as AWS does. It returns
// the access key for the log.
func (s *Server) checkAuthorization(h string) (string, *apiError) {
	if h == "" {
		return "", accessDenied("Missing Authentication Token")
	}
	_, cred, ok := strings.Cut(h, "Credential=")
	if !strings.HasPrefix(h, "AWS4-") || !ok {
		return "", accessDenied("Authorization header requires a SigV4 Credential")
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(strings.TrimSpace(cred), "/")
	if len(scope) != 5 || scope[0] == "" {
		return "", accessDenied("Credential must have the form <access key>/<date>/<region>/<service>/aws4_request")
	}
	if region := scope[2]; region != s.store.Region() {
		return "", &apiError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'", region)}
	}
	return scope[0], nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (p *protocol) writeJSON(w http.ResponseWriter, status int, body json.RawMessage) {
	h := w.Header()
	h.Set("X-Amzn-RequestId", newRequestID())
	if p.cbor {
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		if body != nil {
			b, err := jsonToCBOR(body)
			if err != nil {
				p.writeError(w, err)
				return
			}
			body = b
		}
	}
	if body != nil {
		h.Set("Content-Type", p.contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// asAPIError is err as an API answer; anything unexpected is an internal error.
func asAPIError(err error) *apiError {
	var e *apiError
	if !errors.As(err, &e) {
		e = internalError(err.Error())
	}
	return e
}

// writeError answers err in the protocol's error shape (the same for restJson1 and JSON 1.1:
// X-Amzn-ErrorType, __type and message) and returns the status code.
func (p *protocol) writeError(w http.ResponseWriter, err error) int {
	e := p.errorOf(err)
	body := map[string]any{}
	for k, v := range e.Fields {
		body[k] = v
	}
	body["__type"] = e.Type
	body["message"] = e.Message
	if p.messageMember != "" {
		body[p.messageMember] = e.Message
	}
	b, _ := json.Marshal(body)
	if p.cbor {
		b, _ = jsonToCBOR(b)
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	}
	h := w.Header()
	h.Set("Content-Type", p.contentType)
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Set("X-Amzn-RequestId", newRequestID())
	if e.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
	return e.Status
}

// create runs a Create* operation idempotently: a repeated client token with the same request
// returns the first answer, with a different request a ConflictException.
func (s *Server) create(c *call, token string, status int, fn func(st *store.State) (any, error)) (int, json.RawMessage, error) {
	var out json.RawMessage
	replay := 0
	err := s.store.Update(func(st *store.State) error {
		key := c.op + "/" + token
		sum := sha256.Sum256(append([]byte(c.op+"\x00"+fmt.Sprint(c.params)+"\x00"), c.body...))
		hash := hex.EncodeToString(sum[:])
		if token != "" {
			if prev, ok := st.Tokens[key]; ok {
				if prev.Hash != hash {
					return conflict(rtIdempotency, token, "client token %s was already used with different parameters", token)
				}
				out, replay = prev.Body, prev.Status
				return store.ErrUnchanged
			}
		}
		res, err := fn(st)
		if err != nil {
			return err
		}
		if out, err = json.Marshal(res); err != nil {
			return fmt.Errorf("encode %s response: %w", c.op, err)
		}
		if token != "" {
			st.Tokens[key] = store.Token{Hash: hash, Status: status, Body: out}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if replay != 0 {
		status = replay
	}
	return status, out, nil
}

// update runs a mutating operation and answers status with its result.
func (s *Server) update(status int, fn func(st *store.State) (any, error)) (int, json.RawMessage, error) {
	var out json.RawMessage
	err := s.store.Update(func(st *store.State) error {
		res, err := fn(st)
		if err != nil {
			return err
		}
		out, err = encode(res)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return status, out, nil
}

// view runs a read-only operation.
func (s *Server) view(fn func(st *store.State) (any, error)) (int, json.RawMessage, error) {
	var out json.RawMessage
	var err error
	s.store.View(func(st *store.State) {
		var res any
		if res, err = fn(st); err == nil {
			out, err = encode(res)
		}
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// encode serialises an answer while the store lock is held, because answers point into the
// state, which may change as soon as the lock is released.
func encode(res any) (json.RawMessage, error) {
	if res == nil {
		return nil, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b, nil
}

// settle returns the status a created or updated resource is in: ACTIVE without an async delay,
// else inProgress until the delay has passed.
func (s *Server) settle(st *store.State, id, inProgress string) string {
	d := s.faults.get().AsyncDelay
	if d <= 0 {
		return store.StatusActive
	}
	due := s.store.Now().Add(d)
	st.Pending[id] = store.Pending{Due: due}
	go s.store.Schedule(due)
	return inProgress
}

// retire deletes a resource now, or marks it DELETE_IN_PROGRESS and removes it after the async
// delay.
func (s *Server) retire(st *store.State, id string, remove func()) {
	d := s.faults.get().AsyncDelay
	if d <= 0 {
		remove()
		return
	}
	due := s.store.Now().Add(d)
	st.Pending[id] = store.Pending{Due: due, Delete: true}
	go s.store.Schedule(due)
}
