package deploy

// Resource types of PolicyResult.ResourceType, as upstream's iam-auth-policy-resource-type
// annotation spells them.
const (
	ResourceTypeService        = "Service"
	ResourceTypeServiceNetwork = "ServiceNetwork"
)

// PolicyResult is the outcome of one policy's Lattice changes: what its Programmed condition and
// upstream's bookkeeping annotations need.
type PolicyResult struct {
	// Programmed is true when every route and gateway whose Lattice resources the policy changes
	// was deployed, and its own resource (subscription, association) exists.
	Programmed bool
	// Message is the first failure when Programmed is false.
	Message string
	// ARN is the VPC association's (VpcAssociationPolicy that associates) or the access log
	// subscription's (AccessLogPolicy).
	ARN string
	// ResourceID, ResourceType (ResourceTypeService or ResourceTypeServiceNetwork) and
	// ResourceName name what an IAMAuthPolicy's auth policy is on.
	ResourceID, ResourceType, ResourceName string
}
