package api

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Local ACM: the certificate operations of AWS Certificate Manager that matter for imported
// certificates, on ACM's JSON 1.1 protocol. Limits and messages follow the ACM API reference;
// where AWS doesn't document a message, the wording is ours.

const acmMaxTags = 50

var (
	acmARNPattern = regexp.MustCompile(`^arn:[\w+=/,.@-]+:acm:[\w+=/,.@-]*:[0-9]+:[\w+=,.@-]+(/[\w+=,.@-]+)*$`)
	acmTagPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	// acmDefaultKeyTypes is what ListCertificates returns without Includes.keyTypes, as on AWS.
	acmDefaultKeyTypes = []string{"RSA_1024", "RSA_2048"}
	acmKeyTypes        = []string{"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"}
	acmStatuses        = []string{"PENDING_VALIDATION", "ISSUED", "INACTIVE", "EXPIRED", "VALIDATION_TIMED_OUT", "REVOKED", "FAILED"}
)

type acmTag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// findCertificate resolves an ARN to a stored certificate: InvalidArnException when it isn't
// an ACM certificate ARN, ResourceNotFoundException when no certificate has it.
func (s *Server) findCertificate(st *store.State, arn string) (*store.Certificate, error) {
	if len(arn) < 20 || len(arn) > 2048 || !acmARNPattern.MatchString(arn) {
		return nil, jsonError("InvalidArnException", "%s is not a valid ARN", quoteValue(arn))
	}
	_, id, _ := strings.Cut(arn, ":certificate/")
	c := st.Certificates[id]
	if c == nil || c.ARN != arn {
		return nil, jsonError("ResourceNotFoundException", "Could not find certificate %s.", arn)
	}
	return c, nil
}

// parsedCertificate is an import request after validation.
type parsedCertificate struct {
	cert         *x509.Certificate
	keyAlgorithm string
	domain       string
	sans         []string
}

func (s *Server) importCertificate(c *call) (int, json.RawMessage, error) {
	var in struct {
		CertificateArn   *string  `json:"CertificateArn"`
		Certificate      []byte   `json:"Certificate"`
		PrivateKey       []byte   `json:"PrivateKey"`
		CertificateChain []byte   `json:"CertificateChain"`
		Tags             []acmTag `json:"Tags"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	var v validationErrors
	v.check(in.Certificate != nil, nil, "certificate", "Member must not be null")
	v.check(in.PrivateKey != nil, nil, "privateKey", "Member must not be null")
	v.check(in.Certificate == nil || len(in.Certificate) >= 1 && len(in.Certificate) <= 32768, "certificate", "certificate", "Member must have length between 1 and 32768")
	v.check(in.PrivateKey == nil || len(in.PrivateKey) >= 1 && len(in.PrivateKey) <= 5120, "privateKey", "privateKey", "Member must have length between 1 and 5120")
	v.check(in.CertificateChain == nil || len(in.CertificateChain) >= 1 && len(in.CertificateChain) <= 2097152, "certificateChain", "certificateChain", "Member must have length between 1 and 2097152")
	if err := checkACMTags(v, in.Tags); err != nil {
		return 0, nil, err
	}
	now := s.store.Now()
	p, err := parseImport(in.Certificate, in.PrivateKey, in.CertificateChain, now)
	if err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		cert := &store.Certificate{CreatedAt: now, Tags: acmTagMap(nil, in.Tags)}
		if in.CertificateArn != nil {
			if len(in.Tags) > 0 {
				return nil, jsonError("InvalidParameterException", "You cannot apply tags when reimporting a certificate.")
			}
			prev, err := s.findCertificate(st, *in.CertificateArn)
			if err != nil {
				return nil, err
			}
			if prev.KeyAlgorithm != p.keyAlgorithm {
				return nil, jsonError("ValidationException", "The key type and size of a reimported certificate cannot change: the certificate has %s, the new one %s.", prev.KeyAlgorithm, p.keyAlgorithm)
			}
			cert.ID, cert.ARN, cert.CreatedAt, cert.Tags = prev.ID, prev.ARN, prev.CreatedAt, prev.Tags
		} else {
			if len(st.Certificates) >= s.quotas.Certificates {
				return nil, jsonError("LimitExceededException", "The account has reached its quota of %d imported certificates.", s.quotas.Certificates)
			}
			cert.ID = uuid.NewString()
			cert.ARN = fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", s.store.Region(), s.store.AccountID(), cert.ID)
		}
		cert.CertificatePEM, cert.ChainPEM = string(in.Certificate), string(in.CertificateChain)
		cert.PrivateKeyPEM = string(in.PrivateKey)
		cert.DomainName, cert.SANs, cert.KeyAlgorithm = p.domain, p.sans, p.keyAlgorithm
		cert.NotBefore, cert.NotAfter, cert.ImportedAt = p.cert.NotBefore.UTC(), p.cert.NotAfter.UTC(), now
		// A new value, not an update in place: snapshots share the old one.
		st.Certificates[cert.ID] = cert
		return map[string]string{"CertificateArn": cert.ARN}, nil
	})
}

// parseImport checks what ACM checks on import: PEM encoding, one X.509 v3 certificate valid
// now with an issuer and a domain name, a supported unencrypted key that matches it, and a
// chain that signed it.
func parseImport(certPEM, keyPEM, chainPEM []byte, now time.Time) (*parsedCertificate, error) {
	invalid := func(format string, args ...any) error { return jsonError("ValidationException", format, args...) }
	certs, err := parseCertificates(certPEM)
	if err != nil || len(certs) == 0 {
		return nil, invalid("The certificate is not PEM-encoded or is not valid.")
	}
	if len(certs) > 1 {
		return nil, invalid("The certificate field contains more than one certificate. You can specify only one certificate in this field.")
	}
	cert := certs[0]
	switch {
	case cert.Version != 3:
		return nil, invalid("The certificate must be an X.509 version 3 certificate.")
	case len(cert.RawIssuer) == 0 || cert.Issuer.String() == "":
		return nil, invalid("The certificate's Issuer field must not be empty.")
	case now.Before(cert.NotBefore):
		return nil, invalid("The certificate is not valid before %s; it cannot be imported yet.", cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return nil, invalid("The certificate expired on %s; an expired certificate cannot be imported.", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	alg, ok := keyAlgorithm(cert.PublicKey)
	if !ok {
		return nil, invalid("The certificate's key algorithm is not supported. Supported are %s.", strings.Join(acmKeyTypes, ", "))
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, invalid("The private key does not match the public key in the certificate.")
	}
	if chainPEM != nil {
		chain, err := parseCertificates(chainPEM)
		if err != nil || len(chain) == 0 {
			return nil, invalid("The certificate chain is not PEM-encoded or is not valid.")
		}
		if cert.CheckSignatureFrom(chain[0]) != nil {
			return nil, invalid("Could not validate the certificate with the certificate chain.")
		}
	}
	domain := cert.Subject.CommonName
	sans := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	if domain == "" && len(sans) > 0 {
		domain = sans[0]
	}
	if domain == "" {
		return nil, invalid("The certificate must contain a domain name or IP address in its subject or subject alternative names.")
	}
	if !slices.Contains(sans, domain) {
		sans = append([]string{domain}, sans...)
	}
	return &parsedCertificate{cert: cert, keyAlgorithm: alg, domain: domain, sans: sans}, nil
}

// parseCertificates reads every CERTIFICATE block; anything else in the input is an error.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("not a PEM certificate")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		rest = bytes.TrimSpace(rest)
	}
	return out, nil
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	b, rest := pem.Decode(bytes.TrimSpace(data))
	if b == nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, jsonError("ValidationException", "The private key is not PEM-encoded or is not valid.")
	}
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		return nil, jsonError("ValidationException", "The private key is encrypted. You must import an unencrypted private key.")
	}
	var key any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	signer, ok := key.(crypto.Signer)
	if err != nil || !ok {
		return nil, jsonError("ValidationException", "The private key is not PEM-encoded or is not valid.")
	}
	return signer, nil
}

// keyAlgorithm names a public key as ACM does; ok is false for what ACM can't import.
func keyAlgorithm(pub any) (string, bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		alg := fmt.Sprintf("RSA_%d", k.N.BitLen())
		return alg, slices.Contains(acmKeyTypes, alg)
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return "EC_prime256v1", true
		case 384:
			return "EC_secp384r1", true
		case 521:
			return "EC_secp521r1", true
		}
	}
	return "", false
}

// checkACMTags adds ACM's tag constraints to the request's other violations v and reports them
// all in one ValidationException; reserved keys answer InvalidTagException.
func checkACMTags(v validationErrors, tags []acmTag) error {
	v.check(tags == nil || len(tags) >= 1 && len(tags) <= acmMaxTags, len(tags), "tags", "Member must have length between 1 and 50")
	for i, t := range tags {
		member := fmt.Sprintf("tags.%d.member", i+1)
		v.check(len(t.Key) >= 1 && len(t.Key) <= 128 && acmTagPattern.MatchString(t.Key), t.Key, member+".key",
			"Member must have length between 1 and 128 and match [\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*")
		if t.Value != nil {
			v.check(len(*t.Value) <= 256 && acmTagPattern.MatchString(*t.Value), *t.Value, member+".value",
				"Member must have length less than or equal to 256 and match [\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*")
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return jsonError("InvalidTagException", "Invalid Tag Key: %s. AWS internal tags cannot be changed with this API.", t.Key)
		}
	}
	return nil
}

// acmTagMap applies tags to a copy of base (copy on write: snapshots share the old map).
func acmTagMap(base map[string]string, tags []acmTag) map[string]string {
	out := copyTags(base)
	for _, t := range tags {
		out[t.Key] = deref(t.Value)
	}
	return out
}

func acmTagList(tags map[string]string) []acmTag {
	out := make([]acmTag, 0, len(tags))
	for _, k := range store.SortedKeys(tags) {
		v := tags[k]
		out = append(out, acmTag{Key: k, Value: &v})
	}
	return out
}

type certificateRequest struct {
	CertificateArn string `json:"CertificateArn"`
}

func (s *Server) certificateCall(c *call, fn func(st *store.State, cert *store.Certificate) (any, error)) (int, json.RawMessage, error) {
	var in certificateRequest
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	return s.view(func(st *store.State) (any, error) {
		cert, err := s.findCertificate(st, in.CertificateArn)
		if err != nil {
			return nil, err
		}
		return fn(st, cert)
	})
}

type keyUsage struct {
	Name string `json:"Name"`
	OID  string `json:"OID,omitempty"`
}

func (s *Server) describeCertificate(c *call) (int, json.RawMessage, error) {
	return s.certificateCall(c, func(st *store.State, cert *store.Certificate) (any, error) {
		certs, err := parseCertificates([]byte(cert.CertificatePEM))
		if err != nil || len(certs) != 1 {
			return nil, internalError("stored certificate unreadable")
		}
		x := certs[0]
		inUse := st.CertificateUsers(cert.ARN)
		if inUse == nil {
			inUse = []string{}
		}
		return map[string]any{"Certificate": map[string]any{
			"CertificateArn":          cert.ARN,
			"DomainName":              cert.DomainName,
			"SubjectAlternativeNames": cert.SANs,
			"Serial":                  serialString(x.SerialNumber.Bytes()),
			"Subject":                 x.Subject.String(),
			"Issuer":                  issuerName(x),
			"CreatedAt":               epochTime(cert.CreatedAt),
			"ImportedAt":              epochTime(cert.ImportedAt),
			"Status":                  cert.CertificateStatus(s.store.Now()),
			"NotBefore":               epochTime(cert.NotBefore),
			"NotAfter":                epochTime(cert.NotAfter),
			"KeyAlgorithm":            cert.KeyAlgorithm,
			"SignatureAlgorithm":      strings.ReplaceAll(strings.ToUpper(x.SignatureAlgorithm.String()), "-", "WITH"),
			"InUseBy":                 inUse,
			"Type":                    "IMPORTED",
			"KeyUsages":               keyUsages(x.KeyUsage),
			"ExtendedKeyUsages":       extKeyUsages(x.ExtKeyUsage),
			"RenewalEligibility":      "INELIGIBLE",
			"Options":                 map[string]string{"CertificateTransparencyLoggingPreference": "DISABLED"},
		}}, nil
	})
}

// issuerName is the issuer's organization, as the console shows it, else its common name.
func issuerName(x *x509.Certificate) string {
	if len(x.Issuer.Organization) > 0 {
		return x.Issuer.Organization[0]
	}
	return x.Issuer.CommonName
}

func serialString(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

func keyUsages(ku x509.KeyUsage) []keyUsage {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "DIGITAL_SIGNATURE"}, {x509.KeyUsageContentCommitment, "NON_REPUDIATION"},
		{x509.KeyUsageKeyEncipherment, "KEY_ENCIPHERMENT"}, {x509.KeyUsageDataEncipherment, "DATA_ENCIPHERMENT"},
		{x509.KeyUsageKeyAgreement, "KEY_AGREEMENT"}, {x509.KeyUsageCertSign, "CERTIFICATE_SIGNING"},
		{x509.KeyUsageCRLSign, "CRL_SIGNING"}, {x509.KeyUsageEncipherOnly, "ENCIPHER_ONLY"}, {x509.KeyUsageDecipherOnly, "DECIPHER_ONLY"},
	}
	out := []keyUsage{}
	for _, n := range names {
		if ku&n.bit != 0 {
			out = append(out, keyUsage{Name: n.name})
		}
	}
	return out
}

func extKeyUsages(ekus []x509.ExtKeyUsage) []keyUsage {
	known := map[x509.ExtKeyUsage]keyUsage{
		x509.ExtKeyUsageServerAuth:      {"TLS_WEB_SERVER_AUTHENTICATION", "1.3.6.1.5.5.7.3.1"},
		x509.ExtKeyUsageClientAuth:      {"TLS_WEB_CLIENT_AUTHENTICATION", "1.3.6.1.5.5.7.3.2"},
		x509.ExtKeyUsageCodeSigning:     {"CODE_SIGNING", "1.3.6.1.5.5.7.3.3"},
		x509.ExtKeyUsageEmailProtection: {"EMAIL_PROTECTION", "1.3.6.1.5.5.7.3.4"},
		x509.ExtKeyUsageTimeStamping:    {"TIME_STAMPING", "1.3.6.1.5.5.7.3.8"},
		x509.ExtKeyUsageOCSPSigning:     {"OCSP_SIGNING", "1.3.6.1.5.5.7.3.9"},
	}
	out := []keyUsage{}
	for _, e := range ekus {
		if k, ok := known[e]; ok {
			out = append(out, k)
		}
	}
	return out
}

func (s *Server) getCertificate(c *call) (int, json.RawMessage, error) {
	return s.certificateCall(c, func(_ *store.State, cert *store.Certificate) (any, error) {
		out := map[string]string{"Certificate": cert.CertificatePEM}
		if cert.ChainPEM != "" {
			out["CertificateChain"] = cert.ChainPEM
		}
		return out, nil
	})
}

func (s *Server) deleteCertificate(c *call) (int, json.RawMessage, error) {
	var in certificateRequest
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		cert, err := s.findCertificate(st, in.CertificateArn)
		if err != nil {
			return nil, err
		}
		if users := st.CertificateUsers(cert.ARN); len(users) > 0 {
			return nil, jsonError("ResourceInUseException", "Certificate %s is in use by %s.", cert.ARN, strings.Join(users, ", "))
		}
		delete(st.Certificates, cert.ID)
		return nil, nil
	})
}

type certificateSummary struct {
	CertificateArn                      string    `json:"CertificateArn"`
	DomainName                          string    `json:"DomainName"`
	SubjectAlternativeNameSummaries     []string  `json:"SubjectAlternativeNameSummaries"`
	HasAdditionalSubjectAlternativeName bool      `json:"HasAdditionalSubjectAlternativeNames"`
	Status                              string    `json:"Status"`
	Type                                string    `json:"Type"`
	KeyAlgorithm                        string    `json:"KeyAlgorithm"`
	InUse                               bool      `json:"InUse"`
	RenewalEligibility                  string    `json:"RenewalEligibility"`
	NotBefore                           epochTime `json:"NotBefore"`
	NotAfter                            epochTime `json:"NotAfter"`
	CreatedAt                           epochTime `json:"CreatedAt"`
	ImportedAt                          epochTime `json:"ImportedAt"`
}

// maxSANSummaries is how many names a ListCertificates summary shows before it says there are
// more (HasAdditionalSubjectAlternativeNames).
const maxSANSummaries = 100

func (s *Server) listCertificates(c *call) (int, json.RawMessage, error) {
	var in struct {
		CertificateStatuses []string `json:"CertificateStatuses"`
		Includes            *struct {
			KeyTypes []string `json:"keyTypes"`
		} `json:"Includes"`
		NextToken *string `json:"NextToken"`
		MaxItems  *int    `json:"MaxItems"`
		SortBy    string  `json:"SortBy"`
		SortOrder string  `json:"SortOrder"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	var v validationErrors
	for i, st := range in.CertificateStatuses {
		v.check(slices.Contains(acmStatuses, st), st, fmt.Sprintf("certificateStatuses.%d.member", i+1),
			"Member must satisfy enum value set: ["+strings.Join(acmStatuses, ", ")+"]")
	}
	keyTypes := acmDefaultKeyTypes
	if in.Includes != nil && len(in.Includes.KeyTypes) > 0 {
		keyTypes = in.Includes.KeyTypes
		for i, k := range keyTypes {
			v.check(slices.Contains(acmKeyTypes, k), k, fmt.Sprintf("includes.keyTypes.%d.member", i+1),
				"Member must satisfy enum value set: ["+strings.Join(acmKeyTypes, ", ")+"]")
		}
	}
	if in.MaxItems != nil {
		v.check(*in.MaxItems >= 1 && *in.MaxItems <= 1000, *in.MaxItems, "maxItems", "Member must have value between 1 and 1000")
	}
	if in.NextToken != nil {
		v.length(*in.NextToken, "nextToken", 1, 10000)
	}
	v.check(in.SortBy == "" || in.SortBy == "CREATED_AT", in.SortBy, "sortBy", "Member must satisfy enum value set: [CREATED_AT]")
	v.check(in.SortOrder == "" || in.SortOrder == "ASCENDING" || in.SortOrder == "DESCENDING", in.SortOrder, "sortOrder",
		"Member must satisfy enum value set: [ASCENDING, DESCENDING]")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	limit := 1000
	if in.MaxItems != nil {
		limit = *in.MaxItems
	}
	var after string
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil {
			return 0, nil, jsonError("InvalidArgsException", "The NextToken %s is not a token this API returned.", quoteValue(*in.NextToken))
		}
		after = string(b)
	}
	return s.view(func(st *store.State) (any, error) {
		now := s.store.Now()
		certs := make([]*store.Certificate, 0, len(st.Certificates))
		for _, cert := range st.Certificates {
			if slices.Contains(keyTypes, cert.KeyAlgorithm) &&
				(len(in.CertificateStatuses) == 0 || slices.Contains(in.CertificateStatuses, cert.CertificateStatus(now))) {
				certs = append(certs, cert)
			}
		}
		// Ordered by creation (then ID), so a token stays valid while certificates come and go.
		key := func(c *store.Certificate) string { return fmt.Sprintf("%020d/%s", c.CreatedAt.UnixNano(), c.ID) }
		desc := in.SortOrder == "DESCENDING"
		slices.SortFunc(certs, func(a, b *store.Certificate) int {
			if desc {
				return strings.Compare(key(b), key(a))
			}
			return strings.Compare(key(a), key(b))
		})
		start := 0
		if after != "" {
			for start < len(certs) && (!desc && key(certs[start]) <= after || desc && key(certs[start]) >= after) {
				start++
			}
		}
		end := min(start+limit, len(certs))
		out := struct {
			CertificateSummaryList []certificateSummary `json:"CertificateSummaryList"`
			NextToken              string               `json:"NextToken,omitempty"`
		}{CertificateSummaryList: make([]certificateSummary, 0, end-start)}
		users := st.CertificateUsersByARN()
		for _, cert := range certs[start:end] {
			sans := cert.SANs[:min(len(cert.SANs), maxSANSummaries)]
			out.CertificateSummaryList = append(out.CertificateSummaryList, certificateSummary{
				CertificateArn: cert.ARN, DomainName: cert.DomainName, SubjectAlternativeNameSummaries: sans,
				HasAdditionalSubjectAlternativeName: len(cert.SANs) > len(sans), Status: cert.CertificateStatus(now),
				Type: "IMPORTED", KeyAlgorithm: cert.KeyAlgorithm, InUse: users[cert.ARN], RenewalEligibility: "INELIGIBLE",
				NotBefore: epochTime(cert.NotBefore), NotAfter: epochTime(cert.NotAfter), CreatedAt: epochTime(cert.CreatedAt),
				ImportedAt: epochTime(cert.ImportedAt),
			})
		}
		if end < len(certs) {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(key(certs[end-1])))
		}
		return out, nil
	})
}

type certificateTagsRequest struct {
	CertificateArn string   `json:"CertificateArn"`
	Tags           []acmTag `json:"Tags"`
}

func (s *Server) certificateTagCall(c *call, fn func(cert *store.Certificate, tags []acmTag) (map[string]string, error)) (int, json.RawMessage, error) {
	var in certificateTagsRequest
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	var v validationErrors
	v.check(in.Tags != nil, nil, "tags", "Member must not be null")
	if err := checkACMTags(v, in.Tags); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		cert, err := s.findCertificate(st, in.CertificateArn)
		if err != nil {
			return nil, err
		}
		tags, err := fn(cert, in.Tags)
		if err != nil {
			return nil, err
		}
		cert.Tags = tags
		return nil, nil
	})
}

func (s *Server) addTagsToCertificate(c *call) (int, json.RawMessage, error) {
	return s.certificateTagCall(c, func(cert *store.Certificate, tags []acmTag) (map[string]string, error) {
		return addACMTags(cert, tags)
	})
}

// addACMTags is the certificate's tags with tags added, or TooManyTagsException past 50.
func addACMTags(cert *store.Certificate, tags []acmTag) (map[string]string, error) {
	out := acmTagMap(cert.Tags, tags)
	if len(out) > acmMaxTags {
		return nil, jsonError("TooManyTagsException", "Certificate %s would have %d tags; the limit is %d.", cert.ARN, len(out), acmMaxTags)
	}
	return out, nil
}

// removeTagsFromCertificate removes a tag given by key alone, or by key and value only when the
// value matches, as ACM does.
func (s *Server) removeTagsFromCertificate(c *call) (int, json.RawMessage, error) {
	return s.certificateTagCall(c, func(cert *store.Certificate, tags []acmTag) (map[string]string, error) {
		out := copyTags(cert.Tags)
		for _, t := range tags {
			if cur, ok := out[t.Key]; ok && (t.Value == nil || *t.Value == cur) {
				delete(out, t.Key)
			}
		}
		return out, nil
	})
}

func (s *Server) listTagsForCertificate(c *call) (int, json.RawMessage, error) {
	return s.certificateCall(c, func(_ *store.State, cert *store.Certificate) (any, error) {
		return map[string]any{"Tags": acmTagList(cert.Tags)}, nil
	})
}
