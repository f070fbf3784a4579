package iamauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Signing facts of reference §3.6.
const (
	SigningName       = "vpc-lattice-svcs"
	UnsignedPayload   = "UNSIGNED-PAYLOAD"
	MaxClockSkew      = 5 * time.Minute
	algorithm         = "AWS4-HMAC-SHA256"
	amzDateFormat     = "20060102T150405Z"
	emptyPayloadHash  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	contentHashHeader = "X-Amz-Content-Sha256"
)

// Secret is what a principals store knows about an access key.
type Secret struct {
	SecretAccessKey string
	Principal       *Principal
}

// Lookup finds an access key; ok is false for an unknown one.
type Lookup func(accessKeyID string) (s Secret, ok bool)

// signer is shared: it is safe for concurrent use and caches derived signing keys.
var signer = v4.NewSigner()

// IsSigned tells whether a request carries a signature, which then must verify: a signed
// request never falls back to anonymous access.
func IsSigned(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Has("X-Amz-Signature")
}

// Verify authenticates a signed request for region at time now: it recomputes the signature
// with the SDK's SigV4 signer from the headers the client signed and compares in constant time.
// The error says why verification failed, for the access log's authDeniedReason.
func Verify(r *http.Request, region string, now time.Time, lookup Lookup) (*Principal, error) {
	if r.URL.Query().Has("X-Amz-Signature") {
		return nil, errors.New("presigned URLs are not supported; sign the Authorization header")
	}
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if auth.service != SigningName {
		return nil, fmt.Errorf("credential scope service is %q, not %s", auth.service, SigningName)
	}
	if auth.region != region {
		return nil, fmt.Errorf("credential scope region is %q, not %s", auth.region, region)
	}
	if !slices.Contains(auth.signedHeaders, "host") || !slices.Contains(auth.signedHeaders, "x-amz-date") {
		return nil, errors.New("host and x-amz-date must be signed")
	}
	signedAt, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return nil, errors.New("x-amz-date is missing or not in ISO 8601 basic format")
	}
	if skew := now.Sub(signedAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, fmt.Errorf("signature date %s is more than %s from the server time", signedAt.Format(amzDateFormat), MaxClockSkew)
	}
	if auth.date != signedAt.Format("20060102") {
		return nil, errors.New("credential scope date does not match x-amz-date")
	}
	payloadHash, err := payloadHashOf(r)
	if err != nil {
		return nil, err
	}
	secret, ok := lookup(auth.accessKeyID)
	if !ok || secret.Principal == nil {
		return nil, fmt.Errorf("unknown access key %q", auth.accessKeyID)
	}
	want, err := recompute(r, auth, secret.SecretAccessKey, payloadHash, signedAt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return nil, errors.New("signature does not match")
	}
	return secret.Principal, nil
}

// payloadHashOf: Lattice does not sign payloads, so a request with a body must say
// UNSIGNED-PAYLOAD; a bodyless one may also carry the hash of the empty string, as curl sends.
func payloadHashOf(r *http.Request) (string, error) {
	h := r.Header.Get(contentHashHeader)
	switch {
	case h == UnsignedPayload:
		return h, nil
	case (h == "" || h == emptyPayloadHash) && r.ContentLength == 0:
		return emptyPayloadHash, nil
	}
	return "", errors.New("payload signing is not supported: send x-amz-content-sha256: UNSIGNED-PAYLOAD")
}

// recompute signs a copy of r holding only the headers the client signed.
func recompute(r *http.Request, auth authorization, secretKey, payloadHash string, at time.Time) (authorization, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &http.Request{
		Method: r.Method,
		Host:   r.Host,
		URL:    &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Header: http.Header{},
	}
	for _, h := range auth.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			c.ContentLength = r.ContentLength
		default:
			vs := r.Header.Values(h)
			if len(vs) == 0 {
				return authorization{}, fmt.Errorf("signed header %s is missing", h)
			}
			c.Header[textproto.CanonicalMIMEHeaderKey(h)] = vs
		}
	}
	creds := aws.Credentials{AccessKeyID: auth.accessKeyID, SecretAccessKey: secretKey}
	if err := signer.SignHTTP(context.Background(), creds, c, payloadHash, SigningName, auth.region, at); err != nil {
		return authorization{}, fmt.Errorf("recompute signature: %w", err)
	}
	got, err := parseAuthorization(c.Header.Get("Authorization"))
	if err != nil {
		return authorization{}, fmt.Errorf("recompute signature: %w", err)
	}
	// The signer leaves out headers it never signs (User-Agent, Expect, …); a client that signed
	// one cannot be verified.
	if !slices.Equal(got.signedHeaders, auth.signedHeaders) {
		return authorization{}, fmt.Errorf("signed headers %s cannot be verified (expected %s)",
			strings.Join(auth.signedHeaders, ";"), strings.Join(got.signedHeaders, ";"))
	}
	return got, nil
}

// authorization is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

func parseAuthorization(h string) (authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != algorithm {
		if strings.HasPrefix(h, "AWS4-ECDSA-P256-SHA256") {
			return authorization{}, errors.New("SigV4A is not supported by Local Lattice; sign with SigV4")
		}
		return authorization{}, fmt.Errorf("authorization header is not %s", algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, errors.New("malformed authorization header")
		}
		fields[k] = v
	}
	var a authorization
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return authorization{}, errors.New("malformed credential scope: want AKID/date/region/service/aws4_request")
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	if fields["SignedHeaders"] == "" {
		return authorization{}, errors.New("authorization header has no SignedHeaders")
	}
	a.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(a.signedHeaders) {
		return authorization{}, errors.New("SignedHeaders are not sorted")
	}
	a.signature = fields["Signature"]
	if len(a.signature) != 64 {
		return authorization{}, errors.New("signature is not 64 hex characters")
	}
	return a, nil
}
