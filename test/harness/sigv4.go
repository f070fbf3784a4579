package harness

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SignLatticeRequest signs req as a client of a VPC Lattice service with IAM auth does: SigV4 by
// aws-sdk-go-v2's signer for the service vpc-lattice-svcs, payload UNSIGNED-PAYLOAD. The names are
// spelled out here, not taken from the product, so that the tests hold the product to them.
func SignLatticeRequest(req *http.Request, accessKeyID, secretAccessKey, region string) error {
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey}
	return v4.NewSigner().SignHTTP(req.Context(), creds, req, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", region, time.Now())
}
