package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Field checks of the policy kinds. The CRD schema enforces some of them, but the standalone
// provider reads files nothing has validated, and a clear status beats a Lattice
// ValidationException at deploy time.

// Access log destination types; at most one subscription of each per service or service network.
const (
	destinationS3       = "S3"
	destinationLogs     = "CloudWatchLogs"
	destinationFirehose = "Firehose"
)

var destinationTypes = []string{destinationLogs, destinationFirehose, destinationS3}

var (
	arnPrefix   = `^arn:aws(-[a-z]+)*:`
	regionPart  = `[a-z]{2}(-[a-z]+)+-[0-9]+`
	s3ARN       = regexp.MustCompile(arnPrefix + `s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.+)?$`)
	logGroupARN = regexp.MustCompile(arnPrefix + `logs:` + regionPart + `:[0-9]{12}:log-group:[A-Za-z0-9._/#-]{1,512}(:\*)?$`)
	firehoseARN = regexp.MustCompile(arnPrefix + `firehose:` + regionPart + `:[0-9]{12}:deliverystream/[A-Za-z0-9._-]{1,64}$`)
	statusCodes = regexp.MustCompile(`^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$`)
	sgID        = regexp.MustCompile(`^sg-([0-9a-z]{8}|[0-9a-z]{17})$`)
)

// destinationType classifies an access log destination ARN.
func destinationType(arn string) (string, string) {
	switch {
	case s3ARN.MatchString(arn):
		return destinationS3, ""
	case logGroupARN.MatchString(arn):
		return destinationLogs, ""
	case firehoseARN.MatchString(arn):
		return destinationFirehose, ""
	}
	return "", fmt.Sprintf("spec.destinationArn %q is not the ARN of an S3 bucket (arn:aws:s3:::bucket, optionally /prefix), a CloudWatch Logs log group (arn:aws:logs:region:account:log-group:name) or a Firehose delivery stream (arn:aws:firehose:region:account:deliverystream/name)", arn)
}

// validateTargetGroupPolicy checks the values against the Lattice API's enumerations and ranges.
func validateTargetGroupPolicy(s *v1alpha1.TargetGroupPolicySpec) string {
	var errs []string
	oneOf := func(field string, v *string, allowed ...string) {
		if v != nil && !slices.Contains(allowed, *v) {
			errs = append(errs, fmt.Sprintf("%s %q must be one of %s", field, *v, strings.Join(allowed, ", ")))
		}
	}
	oneOf("protocol", s.Protocol, model.ProtocolHTTP, model.ProtocolHTTPS, model.ProtocolTCP)
	oneOf("protocolVersion", s.ProtocolVersion, model.ProtocolVersionHTTP1, model.ProtocolVersionHTTP2, model.ProtocolVersionGRPC)
	if hc := s.HealthCheck; hc != nil {
		for _, r := range []struct {
			field    string
			v        *int64
			min, max int64
		}{
			{"healthCheck.intervalSeconds", hc.IntervalSeconds, 5, 300},
			{"healthCheck.timeoutSeconds", hc.TimeoutSeconds, 1, 120},
			{"healthCheck.healthyThresholdCount", hc.HealthyThresholdCount, 2, 10},
			{"healthCheck.unhealthyThresholdCount", hc.UnhealthyThresholdCount, 2, 10},
			{"healthCheck.port", hc.Port, 1, 65535},
		} {
			if r.v != nil && (*r.v < r.min || *r.v > r.max) {
				errs = append(errs, fmt.Sprintf("%s %d is outside %d-%d", r.field, *r.v, r.min, r.max))
			}
		}
		if hc.Path != nil && (!strings.HasPrefix(*hc.Path, "/") || len(*hc.Path) > 2048) {
			errs = append(errs, fmt.Sprintf("healthCheck.path %q must start with '/' and have at most 2048 characters", *hc.Path))
		}
		if hc.StatusMatch != nil && !validStatusMatch(*hc.StatusMatch) {
			errs = append(errs, fmt.Sprintf("healthCheck.statusMatch %q must list HTTP codes 200-599 or ranges of them, such as 200 or 200-299,302", *hc.StatusMatch))
		}
		if hc.Protocol != nil {
			oneOf("healthCheck.protocol", (*string)(hc.Protocol), string(v1alpha1.HealthCheckProtocolHTTP), string(v1alpha1.HealthCheckProtocolHTTPS))
		}
		if hc.ProtocolVersion != nil {
			oneOf("healthCheck.protocolVersion", (*string)(hc.ProtocolVersion), string(v1alpha1.HealthCheckProtocolVersionHTTP1), string(v1alpha1.HealthCheckProtocolVersionHTTP2))
		}
	}
	return strings.Join(errs, "; ")
}

func validStatusMatch(s string) bool {
	if len(s) > 2000 || !statusCodes.MatchString(s) {
		return false
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if isRange {
			b, _ = strconv.Atoi(hi)
		}
		if a < 200 || b > 599 || a > b {
			return false
		}
	}
	return true
}

// securityGroups checks, dedupes and sorts security group IDs; an association takes 1-5.
func securityGroups(ids []v1alpha1.SecurityGroupID) ([]string, string) {
	seen := map[string]bool{}
	var out, bad []string
	for _, id := range ids {
		if !sgID.MatchString(string(id)) {
			bad = append(bad, strconv.Quote(string(id)))
			continue
		}
		if !seen[string(id)] {
			seen[string(id)] = true
			out = append(out, string(id))
		}
	}
	switch {
	case len(bad) > 0:
		return nil, "spec.securityGroupIds: " + strings.Join(bad, ", ") + " are not security group IDs (sg- and 8 or 17 characters a-z, 0-9)"
	case len(out) > 5:
		return nil, fmt.Sprintf("spec.securityGroupIds: %d security groups exceed the VPC Lattice limit of 5 per VPC association", len(out))
	}
	sort.Strings(out)
	return out, ""
}

// maxAuthPolicyLen is the Lattice auth policy size quota (10 KB).
const maxAuthPolicyLen = 10 * 1024

// authPolicyDocument checks that an IAM policy is a JSON object whose statements each have an
// Effect of Allow or Deny, and compacts it: Lattice rejects documents with newlines. Deeper
// checks (principals, conditions) are Lattice's.
func authPolicyDocument(policy string) (string, string) {
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return "", "spec.policy is not a JSON policy document: " + err.Error()
	}
	var statements []map[string]any
	if err := json.Unmarshal(doc.Statement, &statements); err != nil {
		var one map[string]any
		if err := json.Unmarshal(doc.Statement, &one); err != nil || one == nil {
			return "", "spec.policy needs a Statement: an object or a list of objects"
		}
		statements = []map[string]any{one}
	}
	if len(statements) == 0 {
		return "", "spec.policy has no statement"
	}
	for i, st := range statements {
		if e, _ := st["Effect"].(string); e != "Allow" && e != "Deny" {
			return "", fmt.Sprintf("spec.policy statement %d: Effect must be Allow or Deny", i+1)
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(policy)); err != nil {
		return "", "spec.policy is not a JSON policy document: " + err.Error()
	}
	if b.Len() > maxAuthPolicyLen {
		return "", fmt.Sprintf("spec.policy is %d characters long, over the VPC Lattice limit of %d", b.Len(), maxAuthPolicyLen)
	}
	return b.String(), ""
}
