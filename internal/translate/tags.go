package translate

import (
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// AnnotationTags holds additional AWS tags, "k=v,k2=v2", for every Lattice resource of a route,
// and of a Gateway's service network, a VpcAssociationPolicy's VPC association and an
// AccessLogPolicy's access log subscriptions, as upstream reads it.
const AnnotationTags = "application-networking.k8s.aws/tags"

// AWS tag limits and upstream's tag character set.
const (
	maxAdditionalTags = 50
	maxTagKeyLen      = 128
	maxTagValueLen    = 256
)

var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// additionalTags parses the tags annotation of annotations. Like upstream it skips malformed
// pairs, reserved keys (aws:, and this controller's own prefixes) and pairs past the 50th; unlike
// upstream it says so in the returned notes.
func additionalTags(annotations map[string]string) (map[string]string, []string) {
	v := annotations[AnnotationTags]
	if v == "" {
		return nil, nil
	}
	tags := map[string]string{}
	var skipped []string
	for pair := range strings.SplitSeq(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch {
		case !ok || k == "" || val == "" || len(k) > maxTagKeyLen || len(val) > maxTagValueLen || !tagChars.MatchString(k) || !tagChars.MatchString(val):
			skipped = append(skipped, fmt.Sprintf("%q is not a valid key=value tag", pair))
		case model.ReservedTagKey(k):
			skipped = append(skipped, fmt.Sprintf("tag key %s is reserved", k))
		case tags[k] != "":
		case len(tags) == maxAdditionalTags:
			skipped = append(skipped, fmt.Sprintf("tag %s exceeds the limit of %d tags", k, maxAdditionalTags))
		default:
			tags[k] = val
		}
	}
	var notes []string
	if len(skipped) > 0 {
		sort.Strings(skipped)
		notes = []string{fmt.Sprintf("annotation %s: %s", AnnotationTags, strings.Join(skipped, "; "))}
	}
	return tags, notes
}

// addTags copies extra into every map of dst (creating nil ones).
func addTags(extra map[string]string, dst ...*map[string]string) {
	if len(extra) == 0 {
		return
	}
	for _, d := range dst {
		if *d == nil {
			*d = map[string]string{}
		}
		maps.Copy(*d, extra)
	}
}
