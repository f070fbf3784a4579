package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Smithy RPC v2 CBOR is the Tagging API's protocol in aws-sdk-go-v2 (the CLI speaks JSON 1.1 to
// the same service). Operations are written once against JSON: a CBOR request is turned into
// the JSON the operation decodes, and its JSON answer into CBOR. That is exact for the Tagging
// API's shapes, which hold no blobs or timestamps in answers.

// cborToJSON converts a request body.
func cborToJSON(body []byte) ([]byte, error) {
	if len(body) == 0 {
		return nil, nil
	}
	v, err := cbor.Decode(body)
	var out []byte
	if err == nil {
		var a any
		if a, err = fromCBOR(v); err == nil {
			// NaN and infinities have no JSON form, and no Tagging API member takes them.
			if out, err = json.Marshal(a); err == nil {
				return out, nil
			}
		}
	}
	return nil, jsonError("SerializationException", "cannot parse CBOR request body: %v", err)
}

func fromCBOR(v cbor.Value) (any, error) {
	switch x := v.(type) {
	case cbor.Uint:
		return uint64(x), nil
	case cbor.NegInt:
		if x == 0 || uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("integer out of range")
		}
		return -int64(x), nil
	case cbor.Slice:
		return []byte(x), nil // JSON writes it base64, as JSON 1.1 sends blobs
	case cbor.String:
		return string(x), nil
	case cbor.Bool:
		return bool(x), nil
	case cbor.Float32:
		return float64(x), nil
	case cbor.Float64:
		return float64(x), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case *cbor.Tag:
		if x.ID != 1 { // 1 is an epoch timestamp, JSON 1.1's timestamp format too
			return nil, fmt.Errorf("unsupported CBOR tag %d", x.ID)
		}
		return fromCBOR(x.Value)
	case cbor.List:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = fromCBOR(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case cbor.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = fromCBOR(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported CBOR value %T", v)
}

// jsonToCBOR converts an answer.
func jsonToCBOR(body json.RawMessage) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var a any
	if err := d.Decode(&a); err != nil {
		return nil, fmt.Errorf("re-encode answer as CBOR: %w", err)
	}
	return cbor.Encode(toCBOR(a)), nil
}

func toCBOR(a any) cbor.Value {
	switch x := a.(type) {
	case string:
		return cbor.String(x)
	case bool:
		return cbor.Bool(x)
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if n < 0 {
				return cbor.NegInt(-n)
			}
			return cbor.Uint(n)
		}
		f, _ := x.Float64()
		return cbor.Float64(f)
	case []any:
		out := make(cbor.List, len(x))
		for i, e := range x {
			out[i] = toCBOR(e)
		}
		return out
	case map[string]any:
		out := make(cbor.Map, len(x))
		for k, e := range x {
			out[k] = toCBOR(e)
		}
		return out
	}
	return &cbor.Nil{}
}
