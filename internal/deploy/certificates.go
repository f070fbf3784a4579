package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Certificates of Kubernetes Secrets, imported into ACM so that Lattice services can name them.
// They are found again by their tags (ManagedBy and the Secret's identity), a changed Secret is
// re-imported into the same ARN (services keep naming it, the data plane serves the new one from
// the next handshake), and a certificate no service uses any more is deleted after the services
// that named it.

// ACMClient is the part of the ACM API the deployer uses; *acm.Client satisfies it
// (latticeclient.NewACM builds one).
type ACMClient interface {
	acm.ListCertificatesAPIClient
	ListTagsForCertificate(context.Context, *acm.ListTagsForCertificateInput, ...func(*acm.Options)) (*acm.ListTagsForCertificateOutput, error)
	ImportCertificate(context.Context, *acm.ImportCertificateInput, ...func(*acm.Options)) (*acm.ImportCertificateOutput, error)
	AddTagsToCertificate(context.Context, *acm.AddTagsToCertificateInput, ...func(*acm.Options)) (*acm.AddTagsToCertificateOutput, error)
	DeleteCertificate(context.Context, *acm.DeleteCertificateInput, ...func(*acm.Options)) (*acm.DeleteCertificateOutput, error)
}

var _ ACMClient = (*acm.Client)(nil)

// certState is an ACM certificate of ours.
type certState struct {
	arn string
	// name is the model name ("<namespace>/<name>" of the Secret), from the tags.
	name   string
	sha256 string
}

// importableKeyTypes are the key types ACM imports; ListCertificates lists only RSA_1024 and
// RSA_2048 certificates unless asked for others.
var importableKeyTypes = []acmtypes.KeyAlgorithm{
	acmtypes.KeyAlgorithmRsa1024, acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmRsa3072, acmtypes.KeyAlgorithmRsa4096,
	acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmEcSecp384r1, acmtypes.KeyAlgorithmEcSecp521r1,
}

// discoverCertificates lists the imported certificates and keeps ours, by tags. Cost: one call
// per 1,000 certificates plus one ListTagsForCertificate per imported certificate.
func (d *Deployer) discoverCertificates(ctx context.Context, o *observed) error {
	if d.cfg.ACM == nil {
		return nil
	}
	var arns []string
	p := acm.NewListCertificatesPaginator(d.cfg.ACM, &acm.ListCertificatesInput{
		Includes: &acmtypes.Filters{KeyTypes: importableKeyTypes}, MaxItems: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list ACM certificates: %w", err)
		}
		for _, c := range page.CertificateSummaryList {
			if c.Type == acmtypes.CertificateTypeImported || c.Type == "" {
				arns = append(arns, aws.ToString(c.CertificateArn))
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	for _, arn := range arns {
		g.Go(func() error {
			out, err := d.cfg.ACM.ListTagsForCertificate(gctx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
			if err != nil {
				var nf *acmtypes.ResourceNotFoundException
				if errors.As(err, &nf) {
					return nil
				}
				return fmt.Errorf("list tags of certificate %s: %w", arn, err)
			}
			tags := map[string]string{}
			for _, t := range out.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if tags[model.TagManagedBy] == d.cfg.ManagedBy() && tags[model.TagSecretName] != "" {
				o.certificates.set(arn, &certState{arn: arn, name: tags[model.TagSecretNamespace] + "/" + tags[model.TagSecretName],
					sha256: tags[model.TagCertificateSHA256]})
			}
			return nil
		})
	}
	return g.Wait()
}

// certificateByName is the certificate of ours for a model certificate name; of duplicates (an
// import retried after its answer was lost) the first ARN is kept and the others are stale.
func (o *observed) certificateByName(name string) *certState {
	for _, arn := range o.certificates.keys(nil) {
		if c := o.certificates.get(arn); c != nil && c.name == name {
			return c
		}
	}
	return nil
}

// certificates imports what the model wants and is missing or changed. Their failures are
// reported on the first route using the certificate; the others fail when they name it.
func (x *differ) certificates(m *model.Model, p *Plan) {
	users := map[string]model.RouteKey{}
	for _, svc := range m.Services {
		if _, ok := users[svc.Certificate]; svc.Certificate != "" && !ok {
			users[svc.Certificate] = svc.Route
		}
	}
	want := map[string]bool{}
	for _, c := range m.Certificates {
		s := &sequence{status: routeStatus(users[c.Name])}
		st := x.obs.certificateByName(c.Name)
		switch {
		case x.cfg.ACM == nil:
			s.err = fmt.Errorf("certificate of Secret %s: the controller has no ACM client", c.Name)
		case st == nil:
			s.add(opImportCertificate(c, ""))
		default:
			want[st.arn] = true
			if st.sha256 != c.SHA256 {
				s.add(opImportCertificate(c, st.arn), opTagCertificate(c, st.arn))
			}
		}
		p.certificates = append(p.certificates, s)
	}
	for _, arn := range x.obs.certificates.keys(nil) {
		if !want[arn] {
			p.staleCertificates = append(p.staleCertificates, &sequence{ops: []Op{opDeleteCertificate(x.obs.certificates.get(arn))}})
		}
	}
}

// importCertificate imports c, into arn when it is set (rotation).
type importCertificate struct {
	cert model.Certificate
	arn  string
}

func opImportCertificate(c model.Certificate, arn string) Op {
	detail := "sha256 " + c.SHA256[:12]
	if arn != "" {
		detail = "re-import, " + detail
	}
	return Op{Action: "ImportCertificate", Resource: "certificate " + c.Name, Detail: detail, call: importCertificate{c, arn}}
}

func (c importCertificate) run(ctx context.Context, d *Deployer) error {
	in := &acm.ImportCertificateInput{Certificate: c.cert.Certificate, PrivateKey: c.cert.PrivateKey}
	if len(c.cert.Chain) > 0 {
		in.CertificateChain = c.cert.Chain
	}
	if c.arn != "" {
		// ACM keeps the tags of a re-imported certificate and refuses new ones here.
		in.CertificateArn = aws.String(c.arn)
	} else {
		in.Tags = acmTags(c.cert.Tags)
	}
	out, err := d.cfg.ACM.ImportCertificate(ctx, in)
	if err != nil {
		return fmt.Errorf("import certificate of Secret %s: %w", c.cert.Name, err)
	}
	if c.arn == "" {
		arn := aws.ToString(out.CertificateArn)
		d.state.certificates.set(arn, &certState{arn: arn, name: c.cert.Name, sha256: c.cert.SHA256})
	}
	return nil
}

// tagCertificate records the hash of a re-imported certificate.
type tagCertificate struct {
	cert model.Certificate
	arn  string
}

func opTagCertificate(c model.Certificate, arn string) Op {
	return Op{Action: "AddTagsToCertificate", Resource: "certificate " + c.Name, Detail: "sha256", call: tagCertificate{c, arn}}
}

func (c tagCertificate) run(ctx context.Context, d *Deployer) error {
	_, err := d.cfg.ACM.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: aws.String(c.arn),
		Tags: acmTags(map[string]string{model.TagCertificateSHA256: c.cert.SHA256})})
	if err != nil {
		return fmt.Errorf("tag certificate of Secret %s: %w", c.cert.Name, err)
	}
	d.state.certificates.update(c.arn, func(st *certState) *certState {
		if st != nil {
			st.sha256 = c.cert.SHA256
		}
		return st
	})
	return nil
}

type deleteCertificate struct{ arn, name string }

func opDeleteCertificate(st *certState) Op {
	return Op{Action: "DeleteCertificate", Resource: "certificate " + st.name, call: deleteCertificate{st.arn, st.name}}
}

// run deletes the certificate. While a Lattice service still names it (a service that moved to
// another certificate keeps none removable by UpdateService), ACM refuses: it stays, and the
// next Apply tries again.
func (c deleteCertificate) run(ctx context.Context, d *Deployer) error {
	_, err := d.cfg.ACM.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: aws.String(c.arn)})
	var inUse *acmtypes.ResourceInUseException
	var nf *acmtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &inUse):
		d.log.Info("certificate still in use, kept", "certificate", c.name, "arn", c.arn, "error", inUse.ErrorMessage())
		return nil
	case err != nil && !errors.As(err, &nf):
		return fmt.Errorf("delete certificate of Secret %s: %w", c.name, err)
	}
	d.state.certificates.remove(c.arn)
	return nil
}

func acmTags(tags map[string]string) []acmtypes.Tag {
	out := make([]acmtypes.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, acmtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// certificateARN is the certificate ARN service svc should name: its own, or the ARN of the
// imported certificate it refers to.
func (d *Deployer) certificateARN(svc *model.Service) (string, error) {
	if svc.Certificate == "" {
		return svc.CertificateARN, nil
	}
	if st := d.state.certificateByName(svc.Certificate); st != nil {
		return st.arn, nil
	}
	return "", fmt.Errorf("certificate of Secret %s is not imported into ACM", svc.Certificate)
}

// wantCertificateARN is the certificate ARN svc should name as far as the diff knows: ok is
// false when the certificate is imported by the same plan.
func (x *differ) wantCertificateARN(svc *model.Service) (arn string, ok bool) {
	if svc.Certificate == "" {
		return svc.CertificateARN, true
	}
	if st := x.obs.certificateByName(svc.Certificate); st != nil {
		return st.arn, true
	}
	return "", false
}
