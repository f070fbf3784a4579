package iamauth

import "fmt"

// Level is a service network or service whose authType is AWS_IAM.
type Level struct {
	// Kind names the policy in messages, as Lattice does: "network" or "service".
	Kind string
	// Policy is the level's auth policy; nil when there is none or it does not parse, which
	// denies everything (AWS_IAM without a policy allows nobody, §3.6).
	Policy *Policy
}

// Authorize needs every level to allow r, an explicit Deny in any level winning. When it
// denies, reason completes "… because " in the AccessDeniedException message.
func Authorize(levels []Level, r *Request) (ok bool, reason string) {
	ok = true
	for _, l := range levels {
		d := NotAllowed
		if l.Policy != nil {
			d = l.Policy.Evaluate(r)
		}
		switch d {
		case Denied:
			return false, fmt.Sprintf("with an explicit deny in a %s-based policy", l.Kind)
		case NotAllowed:
			if ok {
				ok, reason = false, fmt.Sprintf("no %s-based policy allows the %s action", l.Kind, r.Action)
			}
		}
	}
	return ok, reason
}

// DeniedMessage is the message of the AccessDeniedException a denied caller gets.
func DeniedMessage(r *Request, reason string) string {
	user := "anonymous"
	if r.Principal != nil {
		user = r.Principal.ARN
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because %s", user, r.Action, r.Resource, reason)
}
