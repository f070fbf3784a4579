// Package workload runs the containers of the demo's Pods inside the process: each container
// becomes one or more servers on the Pod's loopback address, chosen by the container image, so
// traffic that Local Lattice's data plane sends to a Pod IP reaches something that answers like
// the real image. The shipped binary links only the demo app and a plain echo; the test
// clusters add the Gateway API conformance images on top (test/workloads).
package workload

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Kind names the in-process implementation that stands in for an image.
type Kind string

const (
	// DemoApp answers like the upstream walkthrough's http-server image:
	// "Requesting to Pod(<pod>): <PodName env>".
	DemoApp Kind = "demo-app"
	// PlainEcho is the fallback for any other image: a small JSON echo of method, path and pod.
	PlainEcho Kind = "plain-echo"
)

// DemoAppImage is the image name our own examples use for the demo apps.
const DemoAppImage = "lattice-gateway-demo-app:latest"

// DemoAppPort is where the upstream http-server image listens when the Pod declares no port.
const DemoAppPort = 8090

// PlainEchoPort is where the plain echo listens when the Pod declares no port.
const PlainEchoPort = 8080

// ImageName is an image reference's last path element without tag or digest:
// "registry:5000/team/http-server:1" is "http-server".
func ImageName(image string) string {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	// A colon after the last slash starts the tag; a colon before it is a registry port.
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo[strings.LastIndex(repo, "/")+1:]
}

// KindOf chooses the workload for an image reference.
func KindOf(image string) Kind {
	name := ImageName(image)
	if strings.Contains(name, "lattice-gateway-demo-app") || name == "http-server" {
		return DemoApp
	}
	return PlainEcho
}

// Container is what a workload needs to know about one container of a Pod.
type Container struct {
	Pod       string
	Namespace string
	Name      string
	Image     string
	// Addr is the loopback address standing in for the Pod IP.
	Addr netip.Addr
	// Env is the container's resolved environment (values, downward API, Secret/ConfigMap refs).
	Env map[string]string
	// Ports are the declared TCP container ports.
	Ports []int32
	// Files holds mounted Secret and ConfigMap volume files by absolute path, so images that read
	// certificates from a volume (echo-basic's TLS_SERVER_CERT) find them without touching disk.
	Files map[string][]byte
}

// EnvOr is the value of the environment variable key, or def when it is unset or empty.
func (c Container) EnvOr(key, def string) string {
	if v := c.Env[key]; v != "" {
		return v
	}
	return def
}

// File is a mounted file's content.
func (c Container) File(path string) ([]byte, error) {
	b, ok := c.Files[path]
	if !ok {
		return nil, fmt.Errorf("file %s is not mounted in container %s of pod %s/%s", path, c.Name, c.Namespace, c.Pod)
	}
	return b, nil
}

// Port is the port in the environment variable key (def when unset).
func (c Container) Port(key, def string) (int, error) {
	v := c.EnvOr(key, def)
	p, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("env %s=%q is not a port", key, v)
	}
	return p, nil
}

// portsOr returns the declared ports, or def when the Pod declares none (images often listen
// without declaring it, like the upstream demo app on 8090).
func (c Container) portsOr(def int) []int {
	if len(c.Ports) == 0 {
		return []int{def}
	}
	out := make([]int, 0, len(c.Ports))
	for _, p := range c.Ports {
		out = append(out, int(p))
	}
	return out
}

// Running is a started container; Close stops all its servers.
type Running struct {
	Kind Kind
	// Addrs are the addresses the container listens on.
	Addrs   []netip.AddrPort
	mu      sync.Mutex
	servers []io.Closer
}

// Close stops every server of the container, dropping open connections.
func (r *Running) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, s := range r.servers {
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	r.servers = nil
	return errors.Join(errs...)
}

// Add records a server listening on ap, for Addrs and Close.
func (r *Running) Add(ap netip.AddrPort, s io.Closer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Addrs = append(r.Addrs, ap)
	r.servers = append(r.servers, s)
}

// Starter starts the servers of one kind of workload and adds them to r.
type Starter func(r *Running, c Container, log logr.Logger) error

// Start runs the container's workload. It returns once every socket is bound, so the Pod can be
// reported Ready immediately.
func Start(c Container, log logr.Logger) (*Running, error) {
	kind := KindOf(c.Image)
	port, h := PlainEchoPort, plainEchoHandler(c)
	if kind == DemoApp {
		port, h = DemoAppPort, demoHandler(c)
	}
	return Run(c, kind, func(r *Running, c Container, log logr.Logger) error {
		return startHTTP(r, c, c.portsOr(port), h, log)
	}, log)
}

// Run starts c as kind with start, stopping whatever start began when it fails.
func Run(c Container, kind Kind, start Starter, log logr.Logger) (*Running, error) {
	if !c.Addr.IsLoopback() {
		return nil, fmt.Errorf("start %s/%s container %s: address %s is not loopback", c.Namespace, c.Pod, c.Name, c.Addr)
	}
	r := &Running{Kind: kind}
	log = log.WithValues("pod", c.Namespace+"/"+c.Pod, "container", c.Name, "workload", kind)
	if err := start(r, c, log); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("start %s/%s container %s (%s): %w", c.Namespace, c.Pod, c.Name, kind, err)
	}
	return r, nil
}

// Listen listens on addr:port.
func Listen(addr netip.Addr, port int) (net.Listener, netip.AddrPort, error) {
	ap := netip.AddrPortFrom(addr, uint16(port))
	if port <= 0 || port > 65535 {
		return nil, ap, fmt.Errorf("invalid port %d", port)
	}
	l, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, ap, fmt.Errorf("listen %s: %w", ap, err)
	}
	return l, ap, nil
}

func startHTTP(r *Running, c Container, ports []int, h http.Handler, log logr.Logger) error {
	for _, port := range ports {
		l, ap, err := Listen(c.Addr, port)
		if err != nil {
			return err
		}
		r.Add(ap, ServeHTTP(l, h, nil, nil, log))
	}
	return nil
}

// ServeHTTP serves h on l; with tlsConfig it serves HTTPS (HTTP/2 negotiated by ALPN as the real
// images do). Closing the result drops connections at once, as a killed Pod does.
func ServeHTTP(l net.Listener, h http.Handler, protocols *http.Protocols, tlsConfig *tls.Config, log logr.Logger) io.Closer {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		Protocols:         protocols,
		TLSConfig:         tlsConfig,
		ErrorLog:          stdlog.New(io.Discard, "", 0),
	}
	go func() {
		var err error
		if tlsConfig != nil {
			err = srv.ServeTLS(l, "", "")
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "serve", "addr", l.Addr().String())
		}
	}()
	return httpServer{srv, l}
}

// httpServer closes the listener itself too: Serve may not have started yet when a failed or
// deleted Pod is stopped, and the port must be free when Close returns.
type httpServer struct {
	srv *http.Server
	l   net.Listener
}

func (h httpServer) Close() error {
	err := h.srv.Close()
	if lerr := h.l.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	return err
}

// demoHandler answers like the upstream walkthrough's http-server image: the pod's host name
// (the Pod name) and the handler text from env PodName, e.g.
// "Requesting to Pod(parking-6cdcd5b4b4-g8dkb): parking handler pod", without a newline.
// When PodName is unset the handler text is "<container> handler pod".
func demoHandler(c Container) http.Handler {
	text := c.EnvOr("PodName", c.Name+" handler pod")
	body := fmt.Sprintf("Requesting to Pod(%s): %s", c.Pod, text)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	})
}

// PlainEchoResponse is the plain echo's JSON answer.
type PlainEchoResponse struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Container string `json:"container"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Host      string `json:"host"`
}

func plainEchoHandler(c Container) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(PlainEchoResponse{
			Pod: c.Pod, Namespace: c.Namespace, Container: c.Name,
			Method: r.Method, Path: r.RequestURI, Host: r.Host,
		})
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// WriteError answers 500 with err as a JSON message.
func WriteError(w http.ResponseWriter, err error) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(body)
}

var demoAnswer = regexp.MustCompile(`^Requesting to Pod\(([^)]*)\)`)

// PodOf tells which Pod produced an answer body of any workload: echo-basic and the plain echo
// carry a JSON "pod" field, the demo app names the Pod in its text.
func PodOf(body []byte) (string, bool) {
	if m := demoAnswer.FindSubmatch(body); m != nil {
		return string(m[1]), true
	}
	var v struct {
		Pod *string `json:"pod"`
	}
	if json.Unmarshal(body, &v) == nil && v.Pod != nil {
		return *v.Pod, true
	}
	return "", false
}
