package api

import (
	"encoding/json"
	"net/url"
	"strings"
)

type handler func(s *Server, c *call) (int, json.RawMessage, error)

type route struct {
	method   string
	segments []string // "{name}" binds a path label
	op       string
	handler  handler
	proto    *protocol // nil: restJson1
}

const (
	svcPath  = "/services/{serviceIdentifier}"
	lisPath  = svcPath + "/listeners/{listenerIdentifier}"
	rulePath = lisPath + "/rules/{ruleIdentifier}"
	tgPath   = "/targetgroups/{targetGroupIdentifier}"
)

var routes = compile([]struct {
	method, path, op string
	h                handler
}{
	{"POST", "/servicenetworks", "CreateServiceNetwork", (*Server).createServiceNetwork},
	{"GET", "/servicenetworks", "ListServiceNetworks", (*Server).listServiceNetworks},
	{"GET", "/servicenetworks/{serviceNetworkIdentifier}", "GetServiceNetwork", (*Server).getServiceNetwork},
	{"PATCH", "/servicenetworks/{serviceNetworkIdentifier}", "UpdateServiceNetwork", (*Server).updateServiceNetwork},
	{"DELETE", "/servicenetworks/{serviceNetworkIdentifier}", "DeleteServiceNetwork", (*Server).deleteServiceNetwork},

	{"POST", "/services", "CreateService", (*Server).createService},
	{"GET", "/services", "ListServices", (*Server).listServices},
	{"GET", svcPath, "GetService", (*Server).getService},
	{"PATCH", svcPath, "UpdateService", (*Server).updateService},
	{"DELETE", svcPath, "DeleteService", (*Server).deleteService},

	{"POST", svcPath + "/listeners", "CreateListener", (*Server).createListener},
	{"GET", svcPath + "/listeners", "ListListeners", (*Server).listListeners},
	{"GET", lisPath, "GetListener", (*Server).getListener},
	{"PATCH", lisPath, "UpdateListener", (*Server).updateListener},
	{"DELETE", lisPath, "DeleteListener", (*Server).deleteListener},

	{"POST", lisPath + "/rules", "CreateRule", (*Server).createRule},
	{"GET", lisPath + "/rules", "ListRules", (*Server).listRules},
	{"PATCH", lisPath + "/rules", "BatchUpdateRule", (*Server).batchUpdateRule},
	{"GET", rulePath, "GetRule", (*Server).getRule},
	{"PATCH", rulePath, "UpdateRule", (*Server).updateRule},
	{"DELETE", rulePath, "DeleteRule", (*Server).deleteRule},

	{"POST", "/targetgroups", "CreateTargetGroup", (*Server).createTargetGroup},
	{"GET", "/targetgroups", "ListTargetGroups", (*Server).listTargetGroups},
	{"GET", tgPath, "GetTargetGroup", (*Server).getTargetGroup},
	{"PATCH", tgPath, "UpdateTargetGroup", (*Server).updateTargetGroup},
	{"DELETE", tgPath, "DeleteTargetGroup", (*Server).deleteTargetGroup},
	{"POST", tgPath + "/registertargets", "RegisterTargets", (*Server).registerTargets},
	{"POST", tgPath + "/deregistertargets", "DeregisterTargets", (*Server).deregisterTargets},
	{"POST", tgPath + "/listtargets", "ListTargets", (*Server).listTargets},

	{"POST", "/servicenetworkserviceassociations", "CreateServiceNetworkServiceAssociation", (*Server).createSNSA},
	{"GET", "/servicenetworkserviceassociations", "ListServiceNetworkServiceAssociations", (*Server).listSNSAs},
	{"GET", "/servicenetworkserviceassociations/{serviceNetworkServiceAssociationIdentifier}", "GetServiceNetworkServiceAssociation", (*Server).getSNSA},
	{"DELETE", "/servicenetworkserviceassociations/{serviceNetworkServiceAssociationIdentifier}", "DeleteServiceNetworkServiceAssociation", (*Server).deleteSNSA},

	{"POST", "/servicenetworkvpcassociations", "CreateServiceNetworkVpcAssociation", (*Server).createSNVA},
	{"GET", "/servicenetworkvpcassociations", "ListServiceNetworkVpcAssociations", (*Server).listSNVAs},
	{"GET", "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "GetServiceNetworkVpcAssociation", (*Server).getSNVA},
	{"PATCH", "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "UpdateServiceNetworkVpcAssociation", (*Server).updateSNVA},
	{"DELETE", "/servicenetworkvpcassociations/{serviceNetworkVpcAssociationIdentifier}", "DeleteServiceNetworkVpcAssociation", (*Server).deleteSNVA},

	{"POST", "/tags/{resourceArn}", "TagResource", (*Server).tagResource},
	{"DELETE", "/tags/{resourceArn}", "UntagResource", (*Server).untagResource},
	{"GET", "/tags/{resourceArn}", "ListTagsForResource", (*Server).listTagsForResource},

	{"PUT", "/authpolicy/{resourceIdentifier}", "PutAuthPolicy", (*Server).putAuthPolicy},
	{"GET", "/authpolicy/{resourceIdentifier}", "GetAuthPolicy", (*Server).getAuthPolicy},
	{"DELETE", "/authpolicy/{resourceIdentifier}", "DeleteAuthPolicy", (*Server).deleteAuthPolicy},

	{"PUT", "/resourcepolicy/{resourceArn}", "PutResourcePolicy", (*Server).putResourcePolicy},
	{"GET", "/resourcepolicy/{resourceArn}", "GetResourcePolicy", (*Server).getResourcePolicy},
	{"DELETE", "/resourcepolicy/{resourceArn}", "DeleteResourcePolicy", (*Server).deleteResourcePolicy},

	{"POST", "/accesslogsubscriptions", "CreateAccessLogSubscription", (*Server).createAccessLog},
	{"GET", "/accesslogsubscriptions", "ListAccessLogSubscriptions", (*Server).listAccessLogs},
	{"GET", "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "GetAccessLogSubscription", (*Server).getAccessLog},
	{"PATCH", "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "UpdateAccessLogSubscription", (*Server).updateAccessLog},
	{"DELETE", "/accesslogsubscriptions/{accessLogSubscriptionIdentifier}", "DeleteAccessLogSubscription", (*Server).deleteAccessLog},
})

func compile(defs []struct {
	method, path, op string
	h                handler
}) []route {
	out := make([]route, len(defs))
	for i, d := range defs {
		out[i] = route{method: d.method, segments: strings.Split(strings.Trim(d.path, "/"), "/"), op: d.op, handler: d.h}
	}
	return out
}

// match finds the route for a request. It splits the escaped path, because identifiers may be
// ARNs whose "/" arrive percent-encoded, and unescapes each segment afterwards.
func match(method, escapedPath string) (*route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segments) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, want := range rt.segments {
			got, err := url.PathUnescape(segs[j])
			if err != nil {
				ok = false
				break
			}
			if strings.HasPrefix(want, "{") {
				if got == "" {
					ok = false
					break
				}
				params[strings.Trim(want, "{}")] = got
			} else if got != want {
				ok = false
				break
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return nil, nil, false
}
