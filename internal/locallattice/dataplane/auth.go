package dataplane

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/iamauth"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// routeAuth is what a route needs to enforce IAM auth (reference §3.6); nil when neither the
// service nor its service network has authType AWS_IAM.
type routeAuth struct {
	levels                        []iamauth.Level
	region, account               string
	serviceARN, networkARN, vpcID string
	// invalid says which AWS_IAM levels have a policy that does not parse; they deny everything.
	invalid string
}

// auth compiles the auth levels of a service reached through the service network snARN.
func (c *compiler) auth(svc *store.Service, snARN string) *routeAuth {
	ra := &routeAuth{region: c.snap.Region, account: c.snap.AccountID, serviceARN: svc.ARN, networkARN: snARN}
	var sn *store.ServiceNetwork
	for i := range c.snap.ServiceNetworks {
		if c.snap.ServiceNetworks[i].ARN == snARN {
			sn = &c.snap.ServiceNetworks[i]
		}
	}
	if sn != nil {
		for _, v := range c.snap.VPCAssociations {
			if v.ServiceNetworkID == sn.ID {
				ra.vpcID = v.VPCID
				break
			}
		}
		if sn.AuthType == "AWS_IAM" {
			c.addLevel(ra, "network", sn.ID)
		}
	}
	if svc.AuthType == "AWS_IAM" {
		c.addLevel(ra, "service", svc.ID)
	}
	if len(ra.levels) == 0 {
		return nil
	}
	return ra
}

func (c *compiler) addLevel(ra *routeAuth, kind, resourceID string) {
	l := iamauth.Level{Kind: kind}
	if doc := c.policy(resourceID); doc != nil {
		p, err := iamauth.Parse(*doc)
		if err != nil {
			ra.invalid += "; the " + kind + " auth policy is invalid: " + err.Error()
			c.out.invalidPolicies[resourceID] = err.Error()
		}
		l.Policy = p
	}
	ra.levels = append(ra.levels, l)
}

func (c *compiler) policy(resourceID string) *string {
	for i := range c.snap.AuthPolicies {
		if c.snap.AuthPolicies[i].ResourceID == resourceID {
			return &c.snap.AuthPolicies[i].Policy
		}
	}
	return nil
}

// authResult is the outcome of checking one request.
type authResult struct {
	// user is the resolvedUser of access logs: the principal ARN or "Anonymous".
	user string
	// identity is the x-amzn-lattice-identity value for an authenticated caller.
	identity string
	// denied is the authDeniedReason, empty when the request may pass.
	denied string
	// message is the AccessDeniedException message.
	message string
}

// authorize authenticates a signed request and evaluates every AWS_IAM level's policy.
func (dp *DataPlane) authorize(ra *routeAuth, port string, r *http.Request) authResult {
	// The escaped path, as rules match it: a policy sees the path the router sees.
	path := r.URL.EscapedPath()
	req := &iamauth.Request{Action: iamauth.ActionInvoke, Resource: ra.serviceARN + path, Keys: ra.keys(port, path, r)}
	res := authResult{user: "Anonymous"}
	if iamauth.IsSigned(r) {
		p, err := iamauth.Verify(r, ra.region, time.Now(), dp.principals.lookup)
		if err != nil {
			res.denied = "authentication failed: " + err.Error()
			res.message = "The request signature could not be verified: " + err.Error()
			return res
		}
		req.Principal = p
		res.user = p.ARN
		res.identity = identityHeader(p)
	}
	if ok, reason := iamauth.Authorize(ra.levels, req); !ok {
		res.denied = reason + ra.invalid
		res.message = iamauth.DeniedMessage(req, reason)
	}
	return res
}

// keys are the condition keys of reference §3.6, lower case.
func (ra *routeAuth) keys(port, path string, r *http.Request) map[string]string {
	k := map[string]string{
		"vpc-lattice-svcs:requestmethod":         r.Method,
		"vpc-lattice-svcs:requestpath":           path,
		"vpc-lattice-svcs:port":                  port,
		"vpc-lattice-svcs:servicearn":            ra.serviceARN,
		"vpc-lattice-svcs:servicenetworkarn":     ra.networkARN,
		"vpc-lattice-svcs:sourcevpc":             ra.vpcID,
		"vpc-lattice-svcs:sourcevpcowneraccount": ra.account,
		"aws:securetransport":                    strconv.FormatBool(r.TLS != nil),
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		k["aws:sourceip"] = ip
	}
	for name, vs := range r.Header {
		k["vpc-lattice-svcs:requestheader/"+strings.ToLower(name)] = strings.Join(vs, ",")
	}
	for name, vs := range r.URL.Query() {
		k["vpc-lattice-svcs:requestquerystring/"+strings.ToLower(name)] = strings.Join(vs, ",")
	}
	return k
}

// identityHeader serialises x-amzn-lattice-identity as Key=Value pairs joined by ';', like the
// other Lattice headers (reference §3.7).
func identityHeader(p *iamauth.Principal) string {
	out := "Principal=" + p.ARN
	if p.OrgID != "" {
		out += ";PrincipalOrgID=" + p.OrgID
	}
	if s := iamauth.SessionName(p.ARN); s != "" {
		out += ";SessionName=" + s
	}
	return out
}

// accessDenied answers 403 with the JSON error shape of AWS APIs.
func accessDenied(w http.ResponseWriter, message string) {
	body, _ := json.Marshal(map[string]string{"__type": "AccessDeniedException", "message": message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", "AccessDeniedException")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(body)
}
