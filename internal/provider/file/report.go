package file

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// Report is the outcome of one reconcile, what `run` shows the user.
type Report struct {
	At time.Time
	// Rows are the ServiceNetworks and the Gateways, then the routes, of our GatewayClasses,
	// sorted by namespace and name.
	Rows     []Row
	Problems []Problem
	// Err is a failure of the whole pass (folder unreadable, Lattice unreachable); it is retried.
	Err error
	// RefreshAfter, when positive, asks for another pass then although nothing changed: the
	// ServiceImports it resolved may have changed in other clusters.
	RefreshAfter time.Duration
}

// Row is the state of one ServiceNetwork, Gateway or route.
type Row struct {
	Kind, Namespace, Name string
	// Ready is true when the object is accepted and programmed in Lattice.
	Ready bool
	// Status is "Programmed", "Pending", or the first condition that is not as it should be,
	// e.g. "Accepted=False NotAllowedByListeners".
	Status  string
	Message string
	// DNSName is the Lattice service's DNS name (routes only).
	DNSName string
	// Addresses are where to send requests, one per listener: "http://127.0.0.1:8080" for Local
	// Lattice's data plane, "http://<dns name>:80" for real VPC Lattice.
	Addresses []string
	// ListenerPorts are the Lattice listener ports, in the order of Addresses.
	ListenerPorts []int32
	// Path is a request path the route's first rule matches, for an example request.
	Path string
}

// Ready reports whether every row is ready.
func (r *Report) Ready() bool {
	if r.Err != nil || len(r.Rows) == 0 {
		return false
	}
	for _, row := range r.Rows {
		if !row.Ready {
			return false
		}
	}
	return true
}

// Row returns the row of kind namespace/name, or nil.
func (r *Report) Row(kind, namespace, name string) *Row {
	for i := range r.Rows {
		if row := &r.Rows[i]; row.Kind == kind && row.Namespace == namespace && row.Name == name {
			return row
		}
	}
	return nil
}

// settled is false while something failed that a retry may fix: the pass as a whole, or a
// Lattice call for an object that translate accepted.
func (r *Report) settled() bool {
	if r.Err != nil {
		return false
	}
	for _, row := range r.Rows {
		if strings.HasPrefix(row.Status, status.ConditionProgrammed+"=False") || row.Status == "Pending" {
			return false
		}
	}
	return true
}

func rows(objs []Object, pass *pipeline.Pass, listenerAddr func(int32) string) []Row {
	out, res := pass.Output, pass.Result
	services := map[model.RouteKey]*model.Service{}
	for i := range out.Model.Services {
		services[out.Model.Services[i].Route] = &out.Model.Services[i]
	}
	var gws, routes []Row
	for _, o := range objs {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		row := Row{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}
		var conds []metav1.Condition
		switch o := o.(type) {
		case *gwv1.Gateway:
			if _, ours := out.Gateways[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}]; !ours {
				continue
			}
			row.Ready, row.Status, row.Message = summarize(o.Status.Conditions)
			row.Addresses, row.ListenerPorts = gatewayAddresses(o, listenerAddr)
			gws = append(gws, row)
			continue
		case *v1alpha1.ServiceNetwork:
			row.Ready, row.Status, row.Message = summarize(o.Status.Conditions)
			gws = append(gws, row)
			continue
		case *gwv1.HTTPRoute:
			conds = parentConditions(o.Status.Parents)
		case *gwv1.GRPCRoute:
			conds = parentConditions(o.Status.Parents)
		case *gwv1.TLSRoute:
			conds = parentConditions(o.Status.Parents)
		default:
			continue
		}
		if len(conds) == 0 {
			continue // no parent of ours
		}
		row.Ready, row.Status, row.Message = summarize(conds)
		key := model.RouteKey{Kind: model.RouteKind(kind), Namespace: row.Namespace, Name: row.Name}
		if res != nil {
			row.DNSName = res.Routes[key].DNSName
		}
		if svc := services[key]; svc != nil && row.DNSName != "" {
			for _, l := range svc.Listeners {
				row.Addresses = append(row.Addresses, address(l, row.DNSName, listenerAddr))
				row.ListenerPorts = append(row.ListenerPorts, l.Port)
			}
			row.Path = examplePath(svc)
		}
		routes = append(routes, row)
	}
	for _, rs := range [][]Row{gws, routes} {
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Namespace != rs[j].Namespace {
				return rs[i].Namespace < rs[j].Namespace
			}
			if rs[i].Name != rs[j].Name {
				return rs[i].Name < rs[j].Name
			}
			return rs[i].Kind < rs[j].Kind
		})
	}
	return append(gws, routes...)
}

// gatewayAddresses are where a Gateway with a status address (Local Lattice's
// --gateway-address-cidr) serves each of its listeners: the status address, on the port the data
// plane serves the listener port on.
func gatewayAddresses(gw *gwv1.Gateway, listenerAddr func(int32) string) ([]string, []int32) {
	var addrs []string
	var ports []int32
	for _, a := range gw.Status.Addresses {
		for _, l := range gw.Spec.Listeners {
			port := strconv.Itoa(int(l.Port))
			if listenerAddr != nil {
				_, port, _ = net.SplitHostPort(listenerAddr(int32(l.Port)))
			}
			scheme := "http"
			if l.Protocol == gwv1.HTTPSProtocolType || l.Protocol == gwv1.TLSProtocolType {
				scheme = "https"
			}
			addrs = append(addrs, scheme+"://"+net.JoinHostPort(a.Value, port))
			ports = append(ports, int32(l.Port))
		}
	}
	return addrs, ports
}

func address(l model.Listener, dnsName string, listenerAddr func(int32) string) string {
	scheme := "http"
	switch l.Protocol {
	case model.ProtocolHTTPS:
		scheme = "https"
	case model.ProtocolTLSPassthrough, model.ProtocolTCP:
		scheme = "tls"
	}
	hostPort := net.JoinHostPort(dnsName, strconv.Itoa(int(l.Port)))
	if listenerAddr != nil {
		hostPort = listenerAddr(l.Port)
	}
	return scheme + "://" + hostPort
}

func examplePath(svc *model.Service) string {
	for _, l := range svc.Listeners {
		for _, r := range l.Rules {
			if p := r.Match.Path; p != nil && strings.HasPrefix(p.Value, "/") {
				return p.Value
			}
		}
	}
	return "/"
}

func parentConditions(ps []gwv1.RouteParentStatus) []metav1.Condition {
	var out []metav1.Condition
	for _, p := range ps {
		out = append(out, p.Conditions...)
	}
	return out
}

// summarize reduces conditions to the word a user needs first: what is wrong, else whether
// Lattice has it.
func summarize(conds []metav1.Condition) (ready bool, word, message string) {
	programmed := false
	for _, c := range conds {
		if c.Status != metav1.ConditionTrue {
			if c.Type == status.ConditionProgrammed && c.Reason == status.ReasonPending {
				return false, "Pending", c.Message
			}
			return false, c.Type + "=" + string(c.Status) + " " + c.Reason, c.Message
		}
		programmed = programmed || c.Type == status.ConditionProgrammed
	}
	if !programmed {
		return false, "Pending", ""
	}
	return true, "Programmed", ""
}

// WriteTable prints rep as a compact table, the problems under it, and a curl command for each
// ready route.
func WriteTable(w io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAMESPACE/NAME\tSTATUS\tLATTICE DNS NAME\tADDRESS")
	for _, r := range rep.Rows {
		name := r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Kind, name, r.Status, dash(r.DNSName), dash(strings.Join(r.Addresses, ",")))
	}
	_ = tw.Flush()
	if len(rep.Rows) == 0 {
		fmt.Fprintln(w, "(no Gateway or route of a GatewayClass of this controller)")
	}
	for _, r := range rep.Rows {
		if !r.Ready && r.Message != "" {
			fmt.Fprintf(w, "  %s %s/%s: %s\n", r.Kind, r.Namespace, r.Name, r.Message)
		}
	}
	for _, r := range rep.Rows {
		if r.Ready && len(r.Addresses) > 0 {
			fmt.Fprintf(w, "  try: %s\n", Curl(r.DNSName, r.Addresses[0], nonEmpty(r.Path, "/")))
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  skipped %s\n", p.Error())
	}
	if rep.Err != nil {
		fmt.Fprintf(w, "  error (retrying): %v\n", rep.Err)
	}
}

// Curl is the command that sends a request for path to the Lattice service dnsName through
// address (as in Row.Addresses): with --resolve, so the Host header and TLS name are the DNS name
// while the connection goes to the local data plane.
func Curl(dnsName, address, path string) string {
	scheme, hostPort, _ := strings.Cut(address, "://")
	if scheme == "tls" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || dnsName == "" || host == dnsName {
		return fmt.Sprintf("curl %s://%s%s", scheme, hostPort, path)
	}
	return fmt.Sprintf("curl --resolve %s:%s:%s %s://%s:%s%s", dnsName, port, host, scheme, dnsName, port, path)
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
