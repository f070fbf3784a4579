package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
)

// FuzzJSONProtocols sends arbitrary bodies to every ACM and Tagging API operation, over JSON
// 1.1 and, for the Tagging API, RPC v2 CBOR. No input may crash the server or produce a 500, and
// every JSON error must carry its type in the header and the body.
func FuzzJSONProtocols(f *testing.F) {
	srv, _ := start(f, nil)
	targets := []string{
		"CertificateManager.ImportCertificate", "CertificateManager.DescribeCertificate", "CertificateManager.GetCertificate",
		"CertificateManager.DeleteCertificate", "CertificateManager.ListCertificates", "CertificateManager.AddTagsToCertificate",
		"CertificateManager.RemoveTagsFromCertificate", "CertificateManager.ListTagsForCertificate",
		"ResourceGroupsTaggingAPI_20170126.GetResources", "ResourceGroupsTaggingAPI_20170126.TagResources",
		"ResourceGroupsTaggingAPI_20170126.UntagResources",
	}
	arn := `"arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"`
	seeds := []struct {
		target uint8
		body   string
	}{
		{0, `{"Certificate":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==","PrivateKey":"eA=="}`},
		{0, `{"CertificateArn":` + arn + `,"Certificate":"","PrivateKey":"","Tags":[{"Key":""}]}`},
		{1, `{"CertificateArn":` + arn + `}`},
		{4, `{"CertificateStatuses":["ISSUED"],"Includes":{"keyTypes":["EC_prime256v1"]},"MaxItems":0,"NextToken":"!"}`},
		{5, `{"CertificateArn":"x","Tags":[{"Key":"aws:a","Value":"b"}]}`},
		{8, `{"TagFilters":[{"Key":"ManagedBy","Values":["a"]}],"ResourcesPerPage":1,"PaginationToken":"%%"}`},
		{8, `{"ResourceARNList":[` + arn + `],"ResourceTypeFilters":["acm:certificate"]}`},
		{9, `{"ResourceARNList":["arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0"],"Tags":{"a":"b"}}`},
		{10, `{"ResourceARNList":[],"TagKeys":null}`},
		{4, `[`},
	}
	for _, s := range seeds {
		f.Add(s.target, false, []byte(s.body))
		if strings.HasPrefix(targets[s.target], "ResourceGroups") {
			f.Add(s.target, true, []byte(s.body))
		}
	}
	f.Add(uint8(8), true, cbor.Encode(cbor.Map{"ResourcesPerPage": cbor.NegInt(5), "TagFilters": cbor.List{cbor.Map{"Key": cbor.Slice("k")}}}))
	f.Fuzz(func(t *testing.T, target uint8, useCBOR bool, body []byte) {
		name := targets[int(target)%len(targets)]
		service, op, _ := strings.Cut(name, ".")
		url := "http://local/"
		if useCBOR {
			url = "http://local/service/" + service + "/operation/" + op
		}
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/acm/aws4_request, Signature=0")
		if useCBOR {
			req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		} else {
			req.Header.Set("X-Amz-Target", name)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", name, body, w.Code, w.Body)
		}
		if useCBOR {
			if w.Body.Len() > 0 {
				if _, err := cbor.Decode(w.Body.Bytes()); err != nil {
					t.Fatalf("%s: answer is not CBOR: %v", name, err)
				}
			}
			return
		}
		if w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: body is not JSON: %s", name, w.Body)
		}
		if w.Code < 400 {
			return
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type == "" || e.Message == "" || w.Header().Get("X-Amzn-ErrorType") != e.Type {
			t.Fatalf("%s: malformed error %d %s", name, w.Code, w.Body)
		}
	})
}
