package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// protocol is how a route answers: restJson1 for VPC Lattice, JSON 1.1 for ACM and the Resource
// Groups Tagging API, and Smithy RPC v2 CBOR for the Tagging API too. All share ServeHTTP's
// authentication, fault injection and counters.
type protocol struct {
	contentType string
	// rename maps the injected throttling and internal errors to the service's own types.
	rename map[string]string
	// messageMember is the error message member when the service's model spells it "Message";
	// "message" is always written, which is what the protocols' error parsers read first.
	messageMember string
	// cbor marks RPC v2 CBOR: bodies are converted at the edge (cbor.go).
	cbor bool
	// rpcv2 is the RPC v2 CBOR variant of a JSON 1.1 service that has one.
	rpcv2 *protocol
}

var (
	restJSON   = &protocol{contentType: "application/json"}
	acmJSON    = &protocol{contentType: "application/x-amz-json-1.1"}
	tagRenames = map[string]string{"ThrottlingException": "ThrottledException", "InternalServerException": "InternalServiceException"}
	tagJSON    = &protocol{contentType: "application/x-amz-json-1.1", rename: tagRenames, messageMember: "Message",
		rpcv2: &protocol{contentType: "application/cbor", rename: tagRenames, messageMember: "Message", cbor: true}}
)

// jsonTargets are the JSON 1.1 operations, selected by X-Amz-Target on any path of the API
// listener, so that one endpoint URL serves `aws vpc-lattice`, `aws acm` and
// `aws resourcegroupstaggingapi`.
var jsonTargets = func() map[string]*route {
	out := map[string]*route{}
	add := func(prefix string, p *protocol, ops map[string]handler) {
		for op, h := range ops {
			out[prefix+"."+op] = &route{method: http.MethodPost, op: op, handler: h, proto: p}
		}
	}
	add("CertificateManager", acmJSON, map[string]handler{
		"ImportCertificate":         (*Server).importCertificate,
		"DescribeCertificate":       (*Server).describeCertificate,
		"GetCertificate":            (*Server).getCertificate,
		"DeleteCertificate":         (*Server).deleteCertificate,
		"ListCertificates":          (*Server).listCertificates,
		"AddTagsToCertificate":      (*Server).addTagsToCertificate,
		"RemoveTagsFromCertificate": (*Server).removeTagsFromCertificate,
		"ListTagsForCertificate":    (*Server).listTagsForCertificate,
	})
	add("ResourceGroupsTaggingAPI_20170126", tagJSON, map[string]handler{
		"GetResources":   (*Server).getResources,
		"TagResources":   (*Server).tagResources,
		"UntagResources": (*Server).untagResources,
	})
	return out
}()

// resolve finds the route of a request: by X-Amz-Target for JSON 1.1, by the
// /service/<service>/operation/<operation> path for RPC v2 CBOR, else by method and path.
func resolve(r *http.Request) (*route, map[string]string, error) {
	if service, op, ok := rpcv2Path(r.URL.Path); ok && r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
		rt := jsonTargets[service+"."+op]
		if rt == nil || rt.proto.rpcv2 == nil || r.Method != http.MethodPost {
			return nil, nil, &apiError{Status: http.StatusBadRequest, Type: "UnknownOperationException",
				Message: fmt.Sprintf("no operation %s in service %s", op, service)}
		}
		cb := *rt
		cb.proto = rt.proto.rpcv2
		return &cb, nil, nil
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		rt := jsonTargets[target]
		if rt == nil || r.Method != http.MethodPost {
			return nil, nil, &apiError{Status: http.StatusBadRequest, Type: "UnknownOperationException",
				Message: fmt.Sprintf("no operation %s", target)}
		}
		return rt, nil, nil
	}
	rt, params, ok := match(r.Method, r.URL.EscapedPath())
	if !ok {
		return nil, nil, &apiError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: fmt.Sprintf("no operation for %s %s", r.Method, r.URL.EscapedPath())}
	}
	return rt, params, nil
}

// requestProtocol is the protocol a request speaks, for answering it before its operation is
// known.
func requestProtocol(r *http.Request) *protocol {
	switch {
	case r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor":
		return tagJSON.rpcv2
	case r.Header.Get("X-Amz-Target") != "":
		return acmJSON
	}
	return restJSON
}

func rpcv2Path(path string) (service, op string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/service/")
	if !ok {
		return "", "", false
	}
	service, op, ok = strings.Cut(rest, "/operation/")
	return service, op, ok && service != "" && op != "" && !strings.Contains(op, "/")
}

func (p *protocol) errorOf(err error) *apiError {
	e := asAPIError(err)
	if p == restJSON {
		return e
	}
	out := *e
	if t, ok := p.rename[e.Type]; ok {
		out.Type = t
	}
	// JSON 1.1 services answer throttling with 400, not restJson1's 429.
	if out.Status == http.StatusTooManyRequests {
		out.Status = http.StatusBadRequest
	}
	return &out
}

// jsonError is an error of the JSON 1.1 services: status 400 unless said otherwise.
func jsonError(typ, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// decodeJSON reads a JSON 1.1 request; a body that isn't JSON is a SerializationException, as
// AWS answers.
func decodeJSON(c *call, v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return jsonError("SerializationException", "cannot parse request body: %v", err)
	}
	return nil
}

// validationErrors gathers constraint violations into one ValidationException worded as AWS's
// JSON services word them.
type validationErrors []string

func (v *validationErrors) check(ok bool, value any, member, constraint string) {
	if !ok {
		*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", quoteValue(value), member, constraint))
	}
}

func (v *validationErrors) length(val string, member string, lo, hi int) {
	v.check(len(val) >= lo && len(val) <= hi, val, member,
		fmt.Sprintf("Member must have length between %d and %d", lo, hi))
}

func (v validationErrors) err() error {
	if len(v) == 0 {
		return nil
	}
	s := "s"
	if len(v) == 1 {
		s = ""
	}
	return jsonError("ValidationException", "%d validation error%s detected: %s", len(v), s, strings.Join(v, "; "))
}

func quoteValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "'" + x + "'"
	default:
		return fmt.Sprintf("'%v'", x)
	}
}

// epochTime is a JSON 1.1 timestamp: seconds since the epoch, with milliseconds.
type epochTime time.Time

// MarshalJSON writes seconds with a fraction.
func (t epochTime) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64), nil
}
