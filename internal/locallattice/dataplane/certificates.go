package dataplane

import (
	"crypto/tls"
	"slices"
)

// importedCert is a Local ACM certificate ready to serve, with the PEM it was parsed from so
// that the next compilation reuses it unless a re-import changed it.
type importedCert struct {
	certPEM, chainPEM, keyPEM string
	cert                      *tls.Certificate
}

// certificates parses the imported certificates of the snapshot, keyed by ARN. A certificate
// the API accepted always parses; one that doesn't is left out and its services fall back to
// the CA's certificate.
func (c *compiler) certificates() map[string]*importedCert {
	out := make(map[string]*importedCert, len(c.snap.Certificates))
	for i := range c.snap.Certificates {
		sc := &c.snap.Certificates[i]
		if c.prev != nil {
			if p := c.prev.certs[sc.ARN]; p != nil && p.certPEM == sc.CertificatePEM && p.chainPEM == sc.ChainPEM && p.keyPEM == sc.PrivateKeyPEM {
				out[sc.ARN] = p
				continue
			}
		}
		pair, err := tls.X509KeyPair([]byte(sc.CertificatePEM+"\n"+sc.ChainPEM), []byte(sc.PrivateKeyPEM))
		if err != nil {
			continue
		}
		out[sc.ARN] = &importedCert{certPEM: sc.CertificatePEM, chainPEM: sc.ChainPEM, keyPEM: sc.PrivateKeyPEM, cert: &pair}
	}
	return out
}

// servedCertificate is the imported certificate a route presents for an SNI name: the
// service's certificateArn, on its custom domain name; nil means the CA issues one.
func (rt *route) servedCertificate(name string) *tls.Certificate {
	if rt.cert == nil || name != normalizeHost(rt.service.CustomDomainName) {
		return nil
	}
	return rt.cert.cert
}

// appendCert adds an imported certificate to a socket's fallback list once.
func appendCert(certs []*importedCert, c *importedCert) []*importedCert {
	if c == nil || slices.Contains(certs, c) {
		return certs
	}
	return append(certs, c)
}

// fallbackCertificate is the certificate presented to an SNI that names no service on the
// socket: the first imported certificate of the socket's HTTPS services whose names cover it
// (SAN, one-level wildcards), as Lattice picks "the certificate that matches this domain name".
// The handshake then succeeds and the request gets the 404 of an unknown Host, which is what a
// client of a Gateway listener with that certificate expects. nil (no certificate covers the
// name) keeps the handshake failing: the data plane has no certificate the client could trust.
func fallbackCertificate(certs []*importedCert, name string) *tls.Certificate {
	if name == "" {
		return nil
	}
	for _, c := range certs {
		if leaf := c.cert.Leaf; leaf != nil && leaf.VerifyHostname(name) == nil {
			return c.cert
		}
	}
	return nil
}
