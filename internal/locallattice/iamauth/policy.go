// Package iamauth is Local Lattice's IAM auth: it parses and evaluates auth policy documents
// and verifies SigV4 request signatures (reference §3.6). It is pure: the data plane hands it a
// request, the clock and the principals, and acts on the answer.
package iamauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Policy is a parsed IAM policy document.
type Policy struct {
	Statements []Statement
}

// Statement is one policy statement. Absent Not* lists mean the positive list applies.
type Statement struct {
	Sid          string
	Allow        bool // Effect Allow; otherwise Deny
	Principals   *principalSet
	NotPrincipal *principalSet
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	Conditions   []condition
}

// principalSet is a Principal element: "*" or lists of AWS principals.
type principalSet struct {
	any bool     // "*" or {"AWS": "*"}: everyone, anonymous callers included
	aws []string // ARNs or account IDs
}

// condition is one operator/key pair of a Condition block.
type condition struct {
	op       operator
	ifExists bool
	key      string // lower case: condition keys are case-insensitive
	values   []string
}

// MaxPolicyBytes bounds what Parse reads, as the API bounds PutAuthPolicy (36,864 characters).
const MaxPolicyBytes = 36864

// Parse reads an IAM policy document. It rejects what IAM rejects when a policy is saved:
// unknown elements, effects and condition operators, and a statement without an action.
func Parse(doc string) (*Policy, error) {
	if len(doc) > MaxPolicyBytes {
		return nil, fmt.Errorf("policy is %d bytes, more than %d", len(doc), MaxPolicyBytes)
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := strictDecode([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var stmts []json.RawMessage
	if err := oneOrMany(raw.Statement, &stmts); err != nil {
		return nil, fmt.Errorf("policy Statement: %w", err)
	}
	if len(stmts) == 0 {
		return nil, errors.New("policy has no Statement")
	}
	p := &Policy{Statements: make([]Statement, 0, len(stmts))}
	for i, s := range stmts {
		st, err := parseStatement(s)
		if err != nil {
			return nil, fmt.Errorf("policy Statement[%d]: %w", i, err)
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func parseStatement(b json.RawMessage) (Statement, error) {
	var raw struct {
		Sid          string          `json:"Sid"`
		Effect       string          `json:"Effect"`
		Principal    json.RawMessage `json:"Principal"`
		NotPrincipal json.RawMessage `json:"NotPrincipal"`
		Action       json.RawMessage `json:"Action"`
		NotAction    json.RawMessage `json:"NotAction"`
		Resource     json.RawMessage `json:"Resource"`
		NotResource  json.RawMessage `json:"NotResource"`
		Condition    map[string]map[string]json.RawMessage
	}
	if err := strictDecode(b, &raw); err != nil {
		return Statement{}, err
	}
	st := Statement{Sid: raw.Sid}
	switch raw.Effect {
	case "Allow":
		st.Allow = true
	case "Deny":
	default:
		return Statement{}, fmt.Errorf("the Effect %q is neither Allow nor Deny", raw.Effect)
	}
	var err error
	if st.Principals, err = parsePrincipal(raw.Principal); err != nil {
		return Statement{}, fmt.Errorf("Principal: %w", err)
	}
	if st.NotPrincipal, err = parsePrincipal(raw.NotPrincipal); err != nil {
		return Statement{}, fmt.Errorf("NotPrincipal: %w", err)
	}
	if st.Principals != nil && st.NotPrincipal != nil {
		return Statement{}, errors.New("both Principal and NotPrincipal")
	}
	if st.Actions, st.NotActions, err = exclusiveLists("Action", raw.Action, raw.NotAction, true); err != nil {
		return Statement{}, err
	}
	if st.Resources, st.NotResources, err = exclusiveLists("Resource", raw.Resource, raw.NotResource, false); err != nil {
		return Statement{}, err
	}
	if st.Conditions, err = parseConditions(raw.Condition); err != nil {
		return Statement{}, fmt.Errorf("in Condition: %w", err)
	}
	return st, nil
}

// exclusiveLists reads an element and its Not form, of which at most one may be present (exactly
// one when required).
func exclusiveLists(name string, pos, neg json.RawMessage, required bool) (p, n []string, err error) {
	if len(pos) > 0 && len(neg) > 0 {
		return nil, nil, fmt.Errorf("both %s and Not%s", name, name)
	}
	if required && len(pos) == 0 && len(neg) == 0 {
		return nil, nil, fmt.Errorf("no %s or Not%s", name, name)
	}
	if err := stringList(pos, &p); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := stringList(neg, &n); err != nil {
		return nil, nil, fmt.Errorf("in Not%s: %w", name, err)
	}
	return p, n, nil
}

// parsePrincipal reads "*", {"AWS": "*"} or {"AWS": ARN or [ARNs]}. Other principal types
// (Service, Federated, CanonicalUser) never call a Lattice service, so they match nobody.
func parsePrincipal(b json.RawMessage) (*principalSet, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var star string
	if json.Unmarshal(b, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("%q: a string principal must be \"*\"", star)
		}
		return &principalSet{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New(`want "*" or an object such as {"AWS": [...]}`)
	}
	out := &principalSet{}
	for kind, v := range m {
		var list []string
		if err := stringList(v, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		switch kind {
		case "AWS":
			for _, a := range list {
				if a == "*" {
					out.any = true
				} else {
					out.aws = append(out.aws, a)
				}
			}
		case "Service", "Federated", "CanonicalUser":
		default:
			return nil, fmt.Errorf("unknown principal type %q", kind)
		}
	}
	return out, nil
}

func parseConditions(m map[string]map[string]json.RawMessage) ([]condition, error) {
	var out []condition
	for name, keys := range m {
		opName, ifExists := strings.CutSuffix(name, "IfExists")
		// ForAnyValue/ForAllValues only differ from the plain operator for multi-valued keys,
		// and every key Lattice evaluates has one value.
		for _, set := range []string{"ForAnyValue:", "ForAllValues:"} {
			opName = strings.TrimPrefix(opName, set)
		}
		op, ok := operators[opName]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", name)
		}
		for key, raw := range keys {
			var values []string
			if err := conditionValues(raw, &values); err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, key, err)
			}
			if op.check != nil {
				for _, v := range values {
					if err := op.check(v); err != nil {
						return nil, fmt.Errorf("%s %s: %w", name, key, err)
					}
				}
			}
			out = append(out, condition{op: op, ifExists: ifExists, key: strings.ToLower(key), values: values})
		}
	}
	return out, nil
}

// strictDecode decodes one JSON object, refusing unknown fields and trailing data.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// oneOrMany accepts a single JSON value or an array of them, as IAM does for most elements.
func oneOrMany(b json.RawMessage, out *[]json.RawMessage) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] == '[' {
		return json.Unmarshal(b, out)
	}
	*out = []json.RawMessage{b}
	return nil
}

// stringList reads a string or an array of strings.
func stringList(b json.RawMessage, out *[]string) error { return scalarList(b, out, false) }

// conditionValues reads condition values: strings, booleans or numbers, alone or in an array.
func conditionValues(b json.RawMessage, out *[]string) error { return scalarList(b, out, true) }

func scalarList(b json.RawMessage, out *[]string, booleansAndNumbers bool) error {
	var items []json.RawMessage
	if err := oneOrMany(b, &items); err != nil {
		return err
	}
	for _, it := range items {
		var v any
		if err := json.Unmarshal(it, &v); err != nil {
			return err
		}
		switch v := v.(type) {
		case string:
			*out = append(*out, v)
		case bool, float64:
			if !booleansAndNumbers {
				return fmt.Errorf("%s is not a string", it)
			}
			*out = append(*out, string(bytes.TrimSpace(it)))
		default:
			return fmt.Errorf("%s is not a string, boolean or number", it)
		}
	}
	return nil
}

func checkCIDR(v string) error {
	if _, err := parseCIDR(v); err != nil {
		return err
	}
	return nil
}

func checkBool(v string) error {
	if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return fmt.Errorf("%q is not a boolean", v)
	}
	return nil
}

// parseCIDR accepts a prefix or a bare address (a /32 or /128).
func parseCIDR(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", v)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
