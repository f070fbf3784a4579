// Package workloads runs the containers of simulated Pods inside the test process: each container
// becomes one or more servers on the Pod's loopback address, chosen by the container image, so
// traffic that a data plane sends to a Pod IP reaches something that answers like the real image.
package workloads

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Kind names the in-process implementation that stands in for an image.
type Kind string

const (
	// EchoBasic answers like the Gateway API conformance image echo-basic (JSON echo, h2c, gRPC, HTTPS).
	EchoBasic Kind = "echo-basic"
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

// KindOf chooses the workload for an image reference.
func KindOf(image string) Kind {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	// A colon after the last slash starts the tag; a colon before it is a registry port.
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	name := repo[strings.LastIndex(repo, "/")+1:]
	switch {
	case strings.Contains(name, "echo-basic"):
		return EchoBasic
	case strings.Contains(name, "lattice-gateway-demo-app"), name == "http-server":
		return DemoApp
	default:
		return PlainEcho
	}
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

func (c Container) envOr(key, def string) string {
	if v := c.Env[key]; v != "" {
		return v
	}
	return def
}

func (c Container) file(path string) ([]byte, error) {
	b, ok := c.Files[path]
	if !ok {
		return nil, fmt.Errorf("file %s is not mounted in container %s of pod %s/%s", path, c.Name, c.Namespace, c.Pod)
	}
	return b, nil
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

// server is one listening socket and the thing serving it.
type server interface {
	Close() error
}

// Running is a started container; Close stops all its servers.
type Running struct {
	Kind Kind
	// Addrs are the addresses the container listens on.
	Addrs   []netip.AddrPort
	mu      sync.Mutex
	servers []server
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

func (r *Running) add(ap netip.AddrPort, s server) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Addrs = append(r.Addrs, ap)
	r.servers = append(r.servers, s)
}

// Start runs the container's workload. It returns once every socket is bound, so the Pod can be
// reported Ready immediately.
func Start(c Container, log logr.Logger) (*Running, error) {
	if !c.Addr.IsLoopback() {
		return nil, fmt.Errorf("start %s/%s container %s: address %s is not loopback", c.Namespace, c.Pod, c.Name, c.Addr)
	}
	kind := KindOf(c.Image)
	r := &Running{Kind: kind}
	log = log.WithValues("pod", c.Namespace+"/"+c.Pod, "container", c.Name, "workload", kind)
	var err error
	switch kind {
	case EchoBasic:
		err = startEchoBasic(r, c, log)
	case DemoApp:
		err = startHTTP(r, c, c.portsOr(DemoAppPort), demoHandler(c), log)
	default:
		err = startHTTP(r, c, c.portsOr(PlainEchoPort), plainEchoHandler(c), log)
	}
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("start %s/%s container %s (%s): %w", c.Namespace, c.Pod, c.Name, kind, err)
	}
	return r, nil
}

func listen(addr netip.Addr, port int) (net.Listener, netip.AddrPort, error) {
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

func parsePort(c Container, key, def string) (int, error) {
	v := c.envOr(key, def)
	p, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("env %s=%q is not a port", key, v)
	}
	return p, nil
}

func startHTTP(r *Running, c Container, ports []int, h http.Handler, log logr.Logger) error {
	for _, port := range ports {
		l, ap, err := listen(c.Addr, port)
		if err != nil {
			return err
		}
		r.add(ap, serveHTTP(l, h, nil, nil, log))
	}
	return nil
}

// serveHTTP serves h on l; with tlsConfig it serves HTTPS (HTTP/2 negotiated by ALPN as the real
// images do). The returned http.Server's Close drops connections at once, as a killed Pod does.
func serveHTTP(l net.Listener, h http.Handler, protocols *http.Protocols, tlsConfig *tls.Config, log logr.Logger) server {
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

// stopFunc adapts servers that stop with a method other than Close (gRPC).
type stopFunc func()

func (f stopFunc) Close() error {
	f()
	return nil
}
