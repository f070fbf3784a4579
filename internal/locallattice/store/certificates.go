package store

import "time"

// Certificate is a certificate imported into Local ACM. The PEM material is kept as imported;
// the parsed fields are what ListCertificates filters and sorts on, so that a listing never
// parses certificates. JSON names are ACM's member names.
type Certificate struct {
	ID             string `json:"-"`
	ARN            string `json:"CertificateArn"`
	CertificatePEM string `json:"Certificate"`
	ChainPEM       string `json:"CertificateChain,omitempty"`
	// PrivateKeyPEM is secret: only the data plane's TLS termination reads it; no listing,
	// console or log may show it.
	PrivateKeyPEM string    `json:"-"`
	DomainName    string    `json:"DomainName"`
	SANs          []string  `json:"SubjectAlternativeNames"`
	KeyAlgorithm  string    `json:"KeyAlgorithm"`
	NotBefore     time.Time `json:"NotBefore"`
	NotAfter      time.Time `json:"NotAfter"`
	// CreatedAt is the first import; ImportedAt the latest (a re-import keeps the ARN).
	CreatedAt  time.Time         `json:"CreatedAt"`
	ImportedAt time.Time         `json:"ImportedAt"`
	Tags       map[string]string `json:"-"`
}

// CertificateStatus is ISSUED while the certificate is valid and EXPIRED after NotAfter;
// imported certificates have no other states.
func (c *Certificate) CertificateStatus(now time.Time) string {
	if now.After(c.NotAfter) {
		return "EXPIRED"
	}
	return "ISSUED"
}

// CertificateUsers are the ARNs of the services whose certificateArn names arn, sorted.
func (st *State) CertificateUsers(arn string) []string {
	var out []string
	for _, id := range SortedKeys(st.Services) {
		if svc := st.Services[id]; svc.CertificateARN == arn {
			out = append(out, svc.ARN)
		}
	}
	return out
}

// CertificateUsersByARN is the set of certificate ARNs some service names.
func (st *State) CertificateUsersByARN() map[string]bool {
	out := map[string]bool{}
	for _, svc := range st.Services {
		if svc.CertificateARN != "" {
			out[svc.CertificateARN] = true
		}
	}
	return out
}
