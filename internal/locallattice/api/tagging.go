package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// The Resource Groups Tagging API over every taggable Lattice resource and Local ACM
// certificate, on its JSON 1.1 protocol. It reads and writes the same tags as Lattice's
// TagResource/ListTagsForResource and ACM's tag operations.
//
// Like AWS, GetResources returns only resources that have tags, and may answer an empty page
// with a PaginationToken when the filters leave nothing on the rest of the page.

// defaultResourcesPerPage is GetResources' page size when ResourcesPerPage is absent.
const defaultResourcesPerPage = 100

// taggedResource is one entry of the tag index.
type taggedResource struct {
	arn          string
	service      string // "vpc-lattice", "acm"
	resourceType string // "service", "service/listener", "certificate", ...
	tags         map[string]string
}

// tagIndex caches every tagged resource sorted by ARN for one version of the store, so that a
// walk through GetResources pages costs a binary search and one page each, not a sort of the
// whole account per page. Tag maps are replaced, never changed in place, so entries stay valid
// for the version they were built from.
type tagIndex struct {
	mu      sync.Mutex
	built   bool
	version uint64
	entries []taggedResource
}

// tagged returns the index of st; call it inside View or Update.
func (s *Server) tagged(st *store.State) []taggedResource {
	ti := &s.tagIndex
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if v := s.store.Version(); !ti.built || ti.version != v {
		ti.entries, ti.version, ti.built = buildTagIndex(st), v, true
	}
	return ti.entries
}

func buildTagIndex(st *store.State) []taggedResource {
	var out []taggedResource
	add := func(arn string, tags map[string]string) {
		if len(tags) > 0 {
			service, rtype := arnType(arn)
			out = append(out, taggedResource{arn: arn, service: service, resourceType: rtype, tags: tags})
		}
	}
	for _, r := range st.ServiceNetworks {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.Services {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.Listeners {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.Rules {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.TargetGroups {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.ServiceAssociations {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.VPCAssociations {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.AccessLogSubscriptions {
		add(r.ARN, r.Tags)
	}
	for _, r := range st.Certificates {
		add(r.ARN, r.Tags)
	}
	slices.SortFunc(out, func(a, b taggedResource) int { return strings.Compare(a.arn, b.arn) })
	return out
}

// arnType is the service and resource type of an ARN as ResourceTypeFilters name them: the
// resource's type words without its IDs, so .../service/svc-1/listener/listener-2 is
// "service/listener".
func arnType(arn string) (service, resourceType string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", ""
	}
	segs := strings.Split(parts[5], "/")
	words := make([]string, 0, (len(segs)+1)/2)
	for i := 0; i < len(segs); i += 2 {
		words = append(words, segs[i])
	}
	return parts[2], strings.Join(words, "/")
}

// resourceTags finds the tags of the resource arn names, for any service Local Lattice serves.
func (s *Server) resourceTags(st *store.State, arn string) (*map[string]string, bool) {
	if strings.HasPrefix(arn, "arn:aws:acm:") {
		cert, err := s.findCertificate(st, arn)
		if err != nil {
			return nil, false
		}
		return &cert.Tags, true
	}
	return taggable(st, arn)
}

type tagFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type resourceQuery struct {
	types   []string
	filters []tagFilter
}

func (q *resourceQuery) matches(r *taggedResource) bool {
	if len(q.types) > 0 && !slices.Contains(q.types, r.service) && !slices.Contains(q.types, r.service+":"+r.resourceType) {
		return false
	}
	for _, f := range q.filters {
		v, ok := r.tags[f.Key]
		if !ok || len(f.Values) > 0 && !slices.Contains(f.Values, v) {
			return false
		}
	}
	return true
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type resourceTagMapping struct {
	ResourceARN       string             `json:"ResourceARN"`
	Tags              []tag              `json:"Tags"`
	ComplianceDetails *complianceDetails `json:"ComplianceDetails,omitempty"`
}

// complianceDetails is always compliant: Local Lattice has no tag policies.
type complianceDetails struct {
	NoncompliantKeys           []string `json:"NoncompliantKeys"`
	KeysWithNoncompliantValues []string `json:"KeysWithNoncompliantValues"`
	ComplianceStatus           bool     `json:"ComplianceStatus"`
}

func tagList(tags map[string]string) []tag {
	out := make([]tag, 0, len(tags))
	for _, k := range store.SortedKeys(tags) {
		out = append(out, tag{Key: k, Value: tags[k]})
	}
	return out
}

func invalidParameter(format string, args ...any) *apiError {
	return jsonError("InvalidParameterException", format, args...)
}

func (s *Server) getResources(c *call) (int, json.RawMessage, error) {
	var in struct {
		PaginationToken           *string     `json:"PaginationToken"`
		TagFilters                []tagFilter `json:"TagFilters"`
		ResourcesPerPage          *int        `json:"ResourcesPerPage"`
		TagsPerPage               *int        `json:"TagsPerPage"`
		ResourceTypeFilters       []string    `json:"ResourceTypeFilters"`
		IncludeComplianceDetails  bool        `json:"IncludeComplianceDetails"`
		ExcludeCompliantResources bool        `json:"ExcludeCompliantResources"`
		ResourceARNList           []string    `json:"ResourceARNList"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if err := checkResourceQuery(in.TagFilters, in.ResourceTypeFilters, in.ResourcesPerPage, in.TagsPerPage, in.ResourceARNList); err != nil {
		return 0, nil, err
	}
	if in.ResourceARNList != nil && (in.PaginationToken != nil && *in.PaginationToken != "" || in.ResourcesPerPage != nil ||
		in.TagsPerPage != nil || in.TagFilters != nil || in.ResourceTypeFilters != nil) {
		return 0, nil, invalidParameter("ResourceARNList cannot be combined with TagFilters, ResourceTypeFilters, PaginationToken, ResourcesPerPage or TagsPerPage.")
	}
	var after string
	if tok := deref(in.PaginationToken); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(tok) > 2048 {
			return 0, nil, invalidParameter("The PaginationToken is not a token this API returned.")
		}
		after = string(b)
	}
	perPage := defaultResourcesPerPage
	if in.ResourcesPerPage != nil {
		perPage = *in.ResourcesPerPage
	}
	q := &resourceQuery{types: in.ResourceTypeFilters, filters: in.TagFilters}
	type answer struct {
		PaginationToken        string               `json:"PaginationToken"`
		ResourceTagMappingList []resourceTagMapping `json:"ResourceTagMappingList"`
	}
	return s.view(func(st *store.State) (any, error) {
		out := answer{ResourceTagMappingList: []resourceTagMapping{}}
		emit := func(r *taggedResource) {
			m := resourceTagMapping{ResourceARN: r.arn, Tags: tagList(r.tags)}
			if in.IncludeComplianceDetails {
				m.ComplianceDetails = &complianceDetails{NoncompliantKeys: []string{}, KeysWithNoncompliantValues: []string{}, ComplianceStatus: true}
			}
			out.ResourceTagMappingList = append(out.ResourceTagMappingList, m)
		}
		if in.ResourceARNList != nil {
			for _, arn := range in.ResourceARNList {
				if tags, ok := s.resourceTags(st, arn); ok && len(*tags) > 0 {
					emit(&taggedResource{arn: arn, tags: *tags})
				}
			}
			return out, nil
		}
		if in.IncludeComplianceDetails && in.ExcludeCompliantResources {
			return out, nil // everything is compliant
		}
		entries := s.tagged(st)
		i := sort.Search(len(entries), func(i int) bool { return entries[i].arn > after })
		tagCount := 0
		for ; i < len(entries) && len(out.ResourceTagMappingList) < perPage; i++ {
			r := &entries[i]
			if !q.matches(r) {
				continue
			}
			if in.TagsPerPage != nil && len(out.ResourceTagMappingList) > 0 && tagCount+len(r.tags) > *in.TagsPerPage {
				break
			}
			tagCount += len(r.tags)
			emit(r)
		}
		if i < len(entries) {
			out.PaginationToken = base64.RawURLEncoding.EncodeToString([]byte(entries[i-1].arn))
		}
		return out, nil
	})
}

func checkResourceQuery(filters []tagFilter, types []string, perPage, tagsPerPage *int, arns []string) error {
	switch {
	case len(filters) > 50:
		return invalidParameter("TagFilters may hold at most 50 filters.")
	case len(types) > 100:
		return invalidParameter("ResourceTypeFilters may hold at most 100 types.")
	case perPage != nil && (*perPage < 1 || *perPage > 100):
		return invalidParameter("ResourcesPerPage must be from 1 to 100.")
	case tagsPerPage != nil && (*tagsPerPage < 100 || *tagsPerPage > 500):
		return invalidParameter("TagsPerPage must be from 100 to 500.")
	case arns != nil && (len(arns) < 1 || len(arns) > 100):
		return invalidParameter("ResourceARNList must hold from 1 to 100 ARNs.")
	}
	for _, f := range filters {
		if len(f.Key) < 1 || len(f.Key) > 128 || len(f.Values) > 20 {
			return invalidParameter("Each tag filter needs a Key of 1 to 128 characters and at most 20 Values.")
		}
		for _, v := range f.Values {
			if len(v) > 256 {
				return invalidParameter("Tag filter values have at most 256 characters.")
			}
		}
	}
	for _, arn := range arns {
		if len(arn) < 1 || len(arn) > 1011 {
			return invalidParameter("ARNs in ResourceARNList have from 1 to 1011 characters.")
		}
	}
	return nil
}

type failureInfo struct {
	StatusCode   int    `json:"StatusCode"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// retag applies change to the tags of each resource in arns, reporting failures per resource as
// the Tagging API does; change returns the new tags or the reason they can't be set.
func (s *Server) retag(arns []string, change func(arn string, cur map[string]string) (map[string]string, error)) (int, json.RawMessage, error) {
	if len(arns) < 1 || len(arns) > 20 {
		return 0, nil, invalidParameter("ResourceARNList must hold from 1 to 20 ARNs.")
	}
	var out json.RawMessage
	err := s.store.Update(func(st *store.State) error {
		failed := map[string]failureInfo{}
		changed := false
		for _, arn := range arns {
			tags, ok := s.resourceTags(st, arn)
			if !ok {
				failed[arn] = failureInfo{StatusCode: http.StatusBadRequest, ErrorCode: "InvalidParameterException",
					ErrorMessage: fmt.Sprintf("Resource %s does not exist or is not a resource Local Lattice can tag.", arn)}
				continue
			}
			next, err := change(arn, *tags)
			if err != nil {
				failed[arn] = failureInfo{StatusCode: http.StatusBadRequest, ErrorCode: "InvalidParameterException", ErrorMessage: asAPIError(err).Message}
				continue
			}
			*tags = next
			changed = true
		}
		var err error
		if out, err = encode(map[string]any{"FailedResourcesMap": failed}); err != nil {
			return err
		}
		if !changed {
			return store.ErrUnchanged
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

func (s *Server) tagResources(c *call) (int, json.RawMessage, error) {
	var in struct {
		ResourceARNList []string          `json:"ResourceARNList"`
		Tags            map[string]string `json:"Tags"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if len(in.Tags) < 1 || len(in.Tags) > 50 {
		return 0, nil, invalidParameter("Tags must hold from 1 to 50 tags.")
	}
	return s.retag(in.ResourceARNList, func(arn string, cur map[string]string) (map[string]string, error) {
		if strings.HasPrefix(arn, "arn:aws:acm:") {
			tags := make([]acmTag, 0, len(in.Tags))
			for _, k := range store.SortedKeys(in.Tags) {
				v := in.Tags[k]
				tags = append(tags, acmTag{Key: k, Value: &v})
			}
			if err := checkACMTags(nil, tags); err != nil {
				return nil, err
			}
			return addACMTags(&store.Certificate{ARN: arn, Tags: cur}, tags)
		}
		var v validator
		v.tags(in.Tags)
		if err := v.err(); err != nil {
			return nil, err
		}
		next := copyTags(cur)
		for k, val := range in.Tags {
			next[k] = val
		}
		return next, nil
	})
}

func (s *Server) untagResources(c *call) (int, json.RawMessage, error) {
	var in struct {
		ResourceARNList []string `json:"ResourceARNList"`
		TagKeys         []string `json:"TagKeys"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return 0, nil, err
	}
	if len(in.TagKeys) < 1 || len(in.TagKeys) > 50 {
		return 0, nil, invalidParameter("TagKeys must hold from 1 to 50 keys.")
	}
	return s.retag(in.ResourceARNList, func(_ string, cur map[string]string) (map[string]string, error) {
		next := copyTags(cur)
		for _, k := range in.TagKeys {
			delete(next, k)
		}
		return next, nil
	})
}
