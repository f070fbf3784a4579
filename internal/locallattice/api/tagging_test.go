package api_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
)

type taggingOptions = rgta.Options

func taggingClient(srv *api.Server) *rgta.Client {
	return rgta.New(rgta.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
}

func getResourcesInput() *rgta.GetResourcesInput {
	return &rgta.GetResourcesInput{}
}

func ownedBy(owner string) []rgtatypes.TagFilter {
	return []rgtatypes.TagFilter{{Key: aws.String("ManagedBy"), Values: []string{owner}}}
}

// allResources pages through GetResources and returns the ARNs with their tags, and the
// number of pages.
func allResources(t *testing.T, c *rgta.Client, in *rgta.GetResourcesInput) (map[string]map[string]string, int) {
	t.Helper()
	out := map[string]map[string]string{}
	pages := 0
	p := rgta.NewGetResourcesPaginator(c, in)
	for p.HasMorePages() {
		page := must(p.NextPage(ctx(t)))
		pages++
		for _, m := range page.ResourceTagMappingList {
			tags := map[string]string{}
			for _, tg := range m.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			out[aws.ToString(m.ResourceARN)] = tags
		}
	}
	return out, pages
}

// TestTaggingAPI: GetResources finds tagged Lattice resources and ACM certificates by tag and
// type filters and ARN lists, page by page; TagResources and UntagResources change the same
// tags Lattice's ListTagsForResource shows, and report per-resource failures.
func TestTaggingAPI(t *testing.T) {
	srv, lc := start(t, nil)
	tc := taggingClient(srv)
	cx := ctx(t)
	mine := map[string]string{"ManagedBy": "123456789012/cluster/vpc-1"}
	theirs := map[string]string{"ManagedBy": "someone-else"}

	var ownedServices []string
	for _, name := range []string{"svc-a", "svc-b", "svc-c", "svc-d", "svc-e"} {
		svc := must(lc.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("x" + name), Tags: mine}))
		ownedServices = append(ownedServices, aws.ToString(svc.Arn))
	}
	must(lc.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("foreign"), Tags: theirs}))
	must(lc.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("untagged")}))
	f := newFixture(t, lc, "fx")
	must(lc.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: f.tg.Arn, Tags: mine}))
	must(lc.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: f.listener.Arn, Tags: mine}))
	ca := certtest.NewCA(t, "Test CA")
	leaf := ca.Issue(t, "tagged.example.com", certtest.Options{})
	cert := must(acmClient(srv).ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: leaf.CertPEM, PrivateKey: leaf.KeyPEM}))
	certARN := aws.ToString(cert.CertificateArn)
	_, err := tc.TagResources(cx, &rgta.TagResourcesInput{ResourceARNList: []string{certARN}, Tags: mine})
	if err != nil {
		t.Fatal(err)
	}

	got, pages := allResources(t, tc, &rgta.GetResourcesInput{TagFilters: ownedBy(mine["ManagedBy"]), ResourcesPerPage: aws.Int32(3)})
	want := append(slices.Clone(ownedServices), aws.ToString(f.tg.Arn), aws.ToString(f.listener.Arn), certARN)
	if len(got) != len(want) || pages != 3 {
		t.Fatalf("owned: %d resources in %d pages, want %d in 3: %v", len(got), pages, len(want), got)
	}
	for _, arn := range want {
		if got[arn]["ManagedBy"] != mine["ManagedBy"] {
			t.Errorf("%s missing or without its tag: %v", arn, got[arn])
		}
	}

	byType := func(types ...string) int {
		got, _ := allResources(t, tc, &rgta.GetResourcesInput{TagFilters: ownedBy(mine["ManagedBy"]), ResourceTypeFilters: types})
		return len(got)
	}
	for _, tt := range []struct {
		types []string
		want  int
	}{
		{[]string{"vpc-lattice:service"}, 5},
		{[]string{"vpc-lattice:targetgroup"}, 1},
		{[]string{"vpc-lattice:service/listener"}, 1},
		{[]string{"vpc-lattice:servicenetwork"}, 0},
		{[]string{"acm:certificate"}, 1},
		{[]string{"acm"}, 1},
		{[]string{"vpc-lattice"}, 7},
	} {
		if n := byType(tt.types...); n != tt.want {
			t.Errorf("types %v: %d resources, want %d", tt.types, n, tt.want)
		}
	}
	keyOnly, _ := allResources(t, tc, &rgta.GetResourcesInput{TagFilters: []rgtatypes.TagFilter{{Key: aws.String("ManagedBy")}}})
	if len(keyOnly) != len(want)+1 {
		t.Errorf("a filter with a key and no values matched %d resources, want %d", len(keyOnly), len(want)+1)
	}

	listed := must(tc.GetResources(cx, &rgta.GetResourcesInput{ResourceARNList: []string{ownedServices[0], aws.ToString(f.sn.Arn), certARN}}))
	if len(listed.ResourceTagMappingList) != 2 {
		t.Errorf("ResourceARNList: %d mappings, want the 2 tagged resources", len(listed.ResourceTagMappingList))
	}
	_, err = tc.GetResources(cx, &rgta.GetResourcesInput{ResourceARNList: []string{certARN}, ResourcesPerPage: aws.Int32(5)})
	wantAPIError(t, err, "InvalidParameterException", "ResourceARNList")
	_, err = tc.GetResources(cx, &rgta.GetResourcesInput{ResourceARNList: []string{certARN}, TagFilters: ownedBy("x")})
	wantAPIError(t, err, "InvalidParameterException", "ResourceARNList")
	_, err = tc.GetResources(cx, &rgta.GetResourcesInput{ResourcesPerPage: aws.Int32(101)})
	wantAPIError(t, err, "InvalidParameterException", "ResourcesPerPage")

	missing := "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0"
	tagged := must(tc.TagResources(cx, &rgta.TagResourcesInput{ResourceARNList: []string{ownedServices[0], missing, certARN},
		Tags: map[string]string{"team": "payments"}}))
	if len(tagged.FailedResourcesMap) != 1 || tagged.FailedResourcesMap[missing].ErrorCode != rgtatypes.ErrorCodeInvalidParameterException {
		t.Fatalf("FailedResourcesMap %+v", tagged.FailedResourcesMap)
	}
	lt := must(lc.ListTagsForResource(cx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(ownedServices[0])}))
	if lt.Tags["team"] != "payments" || lt.Tags["ManagedBy"] != mine["ManagedBy"] {
		t.Fatalf("Lattice sees tags %v after TagResources", lt.Tags)
	}
	reserved := must(tc.TagResources(cx, &rgta.TagResourcesInput{ResourceARNList: []string{ownedServices[1]}, Tags: map[string]string{"aws:x": "y"}}))
	if len(reserved.FailedResourcesMap) != 1 {
		t.Fatalf("a reserved key was accepted: %+v", reserved.FailedResourcesMap)
	}

	must(tc.UntagResources(cx, &rgta.UntagResourcesInput{ResourceARNList: []string{ownedServices[0], certARN}, TagKeys: []string{"ManagedBy"}}))
	got, _ = allResources(t, tc, &rgta.GetResourcesInput{TagFilters: ownedBy(mine["ManagedBy"])})
	if _, ok := got[ownedServices[0]]; ok || len(got) != len(want)-2 {
		t.Fatalf("after UntagResources: %d owned resources, want %d", len(got), len(want)-2)
	}
	lt = must(lc.ListTagsForResource(cx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(ownedServices[0])}))
	if _, ok := lt.Tags["ManagedBy"]; ok || lt.Tags["team"] != "payments" {
		t.Fatalf("Lattice sees tags %v after UntagResources", lt.Tags)
	}
	// And the other way round: Lattice's own TagResource shows in GetResources at once.
	must(lc.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: aws.String(ownedServices[0]), Tags: mine}))
	got, _ = allResources(t, tc, &rgta.GetResourcesInput{TagFilters: ownedBy(mine["ManagedBy"])})
	if _, ok := got[ownedServices[0]]; !ok {
		t.Fatal("a tag set through Lattice's TagResource is missing from GetResources")
	}
}

// TestTaggingTagsPerPage: TagsPerPage ends a page before a resource whose tags would overflow
// it, never splitting a resource's tags.
func TestTaggingTagsPerPage(t *testing.T) {
	srv, lc := start(t, nil)
	tags := map[string]string{}
	for i := range 40 {
		tags[fmt.Sprintf("k%02d", i)] = "v"
	}
	for i := range 5 {
		must(lc.CreateService(ctx(t), &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("many-%d", i)), Tags: tags}))
	}
	tc := taggingClient(srv)
	var sizes []int
	p := rgta.NewGetResourcesPaginator(tc, &rgta.GetResourcesInput{TagsPerPage: aws.Int32(100)})
	for p.HasMorePages() {
		page := must(p.NextPage(ctx(t)))
		sizes = append(sizes, len(page.ResourceTagMappingList))
		for _, m := range page.ResourceTagMappingList {
			if len(m.Tags) != 40 {
				t.Fatalf("%s came with %d of its 40 tags", aws.ToString(m.ResourceARN), len(m.Tags))
			}
		}
	}
	if fmt.Sprint(sizes) != "[2 2 1]" {
		t.Fatalf("pages of %v resources, want [2 2 1]", sizes)
	}
}
