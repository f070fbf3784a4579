package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary methods, paths and bodies to the API. No input may crash it or
// produce a 500, and every error must be a well-formed restJson1 error.
func FuzzRequest(f *testing.F) {
	// Default quotas bound how much state a long fuzzing run can pile up.
	srv, c := start(f, nil)
	fx := newFixture(f, c, "fuzz")
	vars := strings.NewReplacer("{svc}", *fx.svc.Id, "{lis}", *fx.listener.Id, "{tg}", *fx.tg.Id, "{sn}", *fx.sn.Id,
		"{svcArn}", strings.ReplaceAll(*fx.svc.Arn, "/", "%2F"))
	seeds := []struct{ method, path, body string }{
		{"POST", "/servicenetworks", `{"name":"abc","authType":"AWS_IAM","tags":{"a":"b"}}`},
		{"POST", "/services", `{"name":"x--y","customDomainName":"a.example.com"}`},
		{"POST", "/targetgroups", `{"name":"tgx","type":"IP","config":{"port":80,"protocol":"HTTP","vpcIdentifier":"vpc-12345678","healthCheck":{"matcher":{"httpCode":"200-299"}}}}`},
		{"POST", "/services/{svc}/listeners", `{"name":"l2","protocol":"HTTPS","defaultAction":{"forward":{"targetGroups":[{"targetGroupIdentifier":"{tg}","weight":5}]}}}`},
		{"POST", "/services/{svc}/listeners/{lis}/rules", `{"name":"r1","priority":3,"match":{"httpMatch":{"method":"GET","headerMatches":[{"name":"x","match":{"contains":"y"}}]}},"action":{"fixedResponse":{"statusCode":404}}}`},
		{"PATCH", "/services/{svc}/listeners/{lis}/rules", `{"rules":[{"ruleIdentifier":"rule-00000000000000000","priority":1}]}`},
		{"POST", "/targetgroups/{tg}/registertargets", `{"targets":[{"id":"10.0.0.1","port":80},{"id":"::1"}]}`},
		{"POST", "/targetgroups/{tg}/listtargets?maxResults=1&nextToken=AAAA", `{}`},
		{"DELETE", "/tags/{svcArn}?tagKeys=a&tagKeys=b", ``},
		{"PUT", "/authpolicy/{sn}", `{"policy":"{}"}`},
		{"POST", "/accesslogsubscriptions", `{"resourceIdentifier":"{svc}","destinationArn":"arn:aws:s3:::bucket"}`},
		{"GET", "/servicenetworks?maxResults=0", ``},
		{"POST", "/servicenetworkvpcassociations", `{"serviceNetworkIdentifier":"{sn}","vpcIdentifier":"vpc-1","securityGroupIds":[1]}`},
		{"PATCH", "/services/{svc}", `{"authType":null}`},
		{"POST", "/services", `[`},
	}
	for _, s := range seeds {
		f.Add(s.method, vars.Replace(s.path), vars.Replace(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			path = "/" + strings.Map(func(r rune) rune {
				if r <= ' ' || r == '#' || r == 0x7f {
					return -1
				}
				return r
			}, path)
		}
		req, err := http.NewRequest(method, "http://local"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/vpc-lattice/aws4_request, Signature=0")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
		}
		if w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, w.Body)
		}
		if w.Code < 400 {
			return
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Reason  string `json:"reason"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type == "" || e.Message == "" ||
			w.Header().Get("X-Amzn-ErrorType") != e.Type {
			t.Fatalf("%s %s: malformed error %d %s", method, path, w.Code, w.Body)
		}
		if e.Type == "ValidationException" && e.Reason == "" {
			t.Fatalf("%s %s: ValidationException without reason: %s", method, path, w.Body)
		}
	})
}
