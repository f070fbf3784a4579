package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Lattice name limits (reference §2.3): [a-z0-9-], no leading, trailing or double hyphen.
const (
	maxServiceNameLen        = 40
	maxServiceNetworkNameLen = 63
	maxTargetGroupNameLen    = 128
	minNameLen               = 3
	reservedServicePrefix    = "svc-"
	hashLen                  = 8
)

// shortHash is 8 hex characters of SHA-256 over parts; enough to keep distinct objects apart in
// names while leaving room for a readable prefix.
func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:hashLen]
}

// validLatticeName reports whether s obeys the common Lattice name rule and length bounds.
func validLatticeName(s string, maxLen int, reservedPrefix string) bool {
	if len(s) < minNameLen || len(s) > maxLen || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	if reservedPrefix != "" && strings.HasPrefix(s, reservedPrefix) {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// sanitize maps s onto the Lattice alphabet: lowercase, other characters become '-', runs of
// '-' collapse and edges are trimmed.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// truncate cuts a sanitized name to n characters without leaving a trailing hyphen.
func truncate(s string, n int) string {
	if len(s) > n {
		s = strings.TrimRight(s[:n], "-")
	}
	return s
}

// latticeName returns want when it is a valid name, else a readable truncation of it plus a hash
// of identity, so that distinct objects never share a truncated name (upstream #657).
func latticeName(want string, maxLen int, reservedPrefix string, identity ...string) string {
	if validLatticeName(want, maxLen, reservedPrefix) {
		return want
	}
	return hashedName(want, maxLen, reservedPrefix, identity...)
}

func hashedName(want string, maxLen int, reservedPrefix string, identity ...string) string {
	readable := sanitize(want)
	if reservedPrefix != "" && strings.HasPrefix(readable, reservedPrefix) {
		readable = "k8s-" + readable
	}
	readable = truncate(readable, maxLen-hashLen-1)
	if readable == "" {
		readable = "k8s"
	}
	return readable + "-" + shortHash(identity...)
}

// upstreamServiceName is the AWS Gateway API Controller's service name,
// trunc(route,20)-trunc(namespace,18), each part without a trailing '-': a migrated route keeps
// its service (and DNS name) and new services are named as upstream users expect.
func upstreamServiceName(route, namespace string) string {
	return strings.TrimRight(truncate(route, 20), "-") + "-" + strings.TrimRight(truncate(namespace, 18), "-")
}

// listenerName is "<port>-<protocol>", e.g. 443-tls-passthrough.
func listenerName(port int32, protocol string) string {
	return fmt.Sprintf("%d-%s", port, sanitize(protocol))
}

// targetGroupName is k8s-<svcns>-<svc>-<port>-<proto>-<hash>; the hash covers the route too, since
// a Lattice target group serves one service only. The readable part is cut so the name fits
// Lattice's 128 characters; with a protocol label of up to 5 characters it never needs to be.
func targetGroupName(svcNamespace, svcName string, port int32, proto string, identity ...string) string {
	readable := fmt.Sprintf("k8s-%s-%s-%d-%s", truncate(sanitize(svcNamespace), 50), truncate(sanitize(svcName), 50), port, proto)
	return truncate(readable, maxTargetGroupNameLen-hashLen-1) + "-" + shortHash(identity...)
}

// validServiceNameOverride applies the Lattice service-name rules to a user-chosen name.
func validServiceNameOverride(s string) bool {
	return validLatticeName(s, maxServiceNameLen, reservedServicePrefix)
}
