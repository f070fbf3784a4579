package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// newID is prefix + "-" + 17 lowercase hex characters, the real ID format.
func newID(prefix string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

func (s *Server) arn(resource string) string {
	return fmt.Sprintf("arn:aws:vpc-lattice:%s:%s:%s", s.store.Region(), s.store.AccountID(), resource)
}

// dnsEntry is the generated service name <name>-<17 hex of the ID>.<7 hex>.vpc-lattice-svcs.<region>.on.aws;
// the middle label and the hosted zone are stable per account and region.
func (s *Server) dnsEntry(name, id string) store.DNSEntry {
	sum := sha256.Sum256([]byte(s.store.AccountID() + "/" + s.store.Region()))
	h := hex.EncodeToString(sum[:])
	return store.DNSEntry{
		DomainName:   fmt.Sprintf("%s-%s.%s.vpc-lattice-svcs.%s.on.aws", name, strings.TrimPrefix(id, "svc-"), h[:7], s.store.Region()),
		HostedZoneID: "Z" + strings.ToUpper(h[7:20]),
	}
}

// idOf turns an identifier (ID or ARN) into an ID: the last path element of an ARN.
func idOf(identifier string) string {
	if !strings.HasPrefix(identifier, "arn:") {
		return identifier
	}
	return identifier[strings.LastIndex(identifier, "/")+1:]
}

// validIdentifier reports whether v is prefix-<17 [0-9a-z]>, or a vpc-lattice ARN ending in one.
func validIdentifier(v, prefix string) bool {
	if strings.HasPrefix(v, "arn:") {
		parts := strings.SplitN(v, ":", 6)
		if len(parts) != 6 || parts[2] != "vpc-lattice" || len(v) > 2048 {
			return false
		}
		v = idOf(v)
	}
	return validID(v, prefix)
}

func validID(v, prefix string) bool {
	rest, ok := strings.CutPrefix(v, prefix+"-")
	if !ok || len(rest) != 17 {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// pageToken encodes the last ID of a page; listings are sorted by ID, so a token stays valid
// while resources come and go.
func pageToken(lastID string) string { return base64.RawURLEncoding.EncodeToString([]byte(lastID)) }

// page applies maxResults and nextToken to sorted IDs.
func page(c *call, ids []string) (out []string, next string, err error) {
	limit := 100
	if v := c.query.Get("maxResults"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 100 {
			return nil, "", invalidField("maxResults", "must be an integer from 1 to 100")
		}
		limit = n
	}
	start := 0
	if tok := c.query.Get("nextToken"); tok != "" {
		after, derr := base64.RawURLEncoding.DecodeString(tok)
		if derr != nil || len(tok) > 2048 {
			return nil, "", invalidField("nextToken", "is not a token this API returned")
		}
		for start < len(ids) && ids[start] <= string(after) {
			start++
		}
	}
	end := min(start+limit, len(ids))
	out = ids[start:end]
	if end < len(ids) {
		next = pageToken(ids[end-1])
	}
	return out, next, nil
}

// listOf is a List* answer; items is never null.
type listOf[T any] struct {
	Items     []T    `json:"items"`
	NextToken string `json:"nextToken,omitempty"`
}

// list pages through sorted IDs, keeping those keep accepts and rendering them with render.
func list[T any](c *call, ids []string, keep func(id string) bool, render func(id string) T) (listOf[T], error) {
	if keep != nil {
		kept := ids[:0:0]
		for _, id := range ids {
			if keep(id) {
				kept = append(kept, id)
			}
		}
		ids = kept
	}
	pageIDs, next, err := page(c, ids)
	if err != nil {
		return listOf[T]{}, err
	}
	out := listOf[T]{Items: make([]T, 0, len(pageIDs)), NextToken: next}
	for _, id := range pageIDs {
		out.Items = append(out.Items, render(id))
	}
	return out, nil
}
