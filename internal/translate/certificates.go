package translate

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// A listener's certificateRefs name kubernetes.io/tls Secrets. VPC Lattice takes ACM certificate
// ARNs only, so the Secret's certificate goes into the model and deploy imports it into ACM
// (re-importing into the same ARN when the Secret changes). Translate checks here what ACM would
// refuse, so the listener reports it: PEM that does not parse, a key that does not match, a
// certificate that is expired or not yet valid.

// certResolution is the outcome of a listener's certificateRefs.
type certResolution struct {
	cert *model.Certificate
	// reason and msg explain a failure (InvalidCertificateRef or RefNotPermitted).
	reason, msg string
	// missing says the only problem is a Secret that does not exist, which
	// Config.IgnoreMissingCertificateRefs lets pass.
	missing bool
}

// resolveCertificates resolves the certificateRefs of a listener of a Gateway or ListenerSet
// (fromKind) in namespace. Lattice serves one certificate per
// service, so the first reference is served; the others must still be valid, as the spec asks.
func (t *translator) resolveCertificates(fromKind, namespace string, refs []gwv1.SecretObjectReference) certResolution {
	var res certResolution
	for i, ref := range refs {
		r := t.resolveCertificate(fromKind, namespace, ref)
		if r.reason != "" {
			return r
		}
		if i == 0 {
			res = r
		}
	}
	return res
}

func (t *translator) resolveCertificate(fromKind, gwNamespace string, ref gwv1.SecretObjectReference) certResolution {
	ns := gwNamespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	invalid := func(format string, args ...any) certResolution {
		return certResolution{reason: string(gwv1.ListenerReasonInvalidCertificateRef), msg: fmt.Sprintf(format, args...)}
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return invalid("certificateRef %s: only core Secrets are supported", key)
	}
	if ns != gwNamespace && !t.referenceGranted(fromKind, gwNamespace, "", "Secret", ns, string(ref.Name)) {
		return certResolution{reason: string(gwv1.ListenerReasonRefNotPermitted),
			msg: fmt.Sprintf("certificateRef %s/%s is in another namespace and no ReferenceGrant allows it", ns, ref.Name)}
	}
	s := t.secrets[key]
	if s == nil {
		r := invalid("certificateRef %s: Secret not found", key)
		r.missing = true
		return r
	}
	cert, err := certificateOf(s, t.in.Now)
	if err != nil {
		return invalid("certificateRef %s: %v", key, err)
	}
	return certResolution{cert: cert}
}

// certificateOf checks a TLS Secret and returns it as a model certificate: the leaf, the chain
// and the key re-encoded as PKCS #8, tagged with the Secret's identity and the hash of what is
// imported. now, when set, rejects certificates outside their validity period.
func certificateOf(s *corev1.Secret, now time.Time) (*model.Certificate, error) {
	if s.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("the Secret's type is %q, not %q", s.Type, corev1.SecretTypeTLS)
	}
	pair, err := tls.X509KeyPair(secretData(s, corev1.TLSCertKey), secretData(s, corev1.TLSPrivateKeyKey))
	if err != nil {
		return nil, fmt.Errorf("invalid %s/%s: %w", corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	leaf := pair.Leaf
	switch {
	case now.IsZero():
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	c := &model.Certificate{
		Name:        s.Namespace + "/" + s.Name,
		Namespace:   s.Namespace,
		Secret:      s.Name,
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate[0]}),
		PrivateKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for _, der := range pair.Certificate[1:] {
		c.Chain = append(c.Chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	sum := sha256.Sum256(append(append([]byte(nil), c.Certificate...), c.Chain...))
	c.SHA256 = hex.EncodeToString(sum[:])
	return c, nil
}

// secretData reads key from data, or from stringData in manifests that never went through an
// API server (which merges stringData into data).
func secretData(s *corev1.Secret, key string) []byte {
	if v, ok := s.Data[key]; ok {
		return v
	}
	return []byte(s.StringData[key])
}

// usedCertificates lists the certificates the services name, each once, sorted by Name, tagged
// as ours.
func (t *translator) usedCertificates(services []model.Service, certs map[string]*model.Certificate) []model.Certificate {
	used := map[string]bool{}
	for _, svc := range services {
		if svc.Certificate != "" {
			used[svc.Certificate] = true
		}
	}
	var out []model.Certificate
	for _, name := range sortedKeys(used) {
		c := *certs[name]
		c.Tags = map[string]string{
			model.TagManagedBy:         t.managedBy,
			model.TagSecretNamespace:   c.Namespace,
			model.TagSecretName:        c.Secret,
			model.TagCertificateSHA256: c.SHA256,
		}
		out = append(out, c)
	}
	return out
}
