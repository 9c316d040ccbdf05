package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/scimd/scimd/schemas"
)

// Limits on one PATCH request.
const (
	// MaxOperations is the largest number of operations one request may
	// carry; more is a 400 tooMany.
	MaxOperations = 1000
	// MaxMemberValues is the largest number of group member values (added,
	// removed or replaced, counted over all operations) one request may
	// carry; more is a 400 tooMany. It is schemas.MaxMembers, the limit of
	// a POST or PUT.
	MaxMemberValues = schemas.MaxMembers
	// MaxPathLength is the longest path, in bytes, an operation may carry;
	// longer is a 400 invalidPath.
	MaxPathLength = 2048
)

// The three PATCH operation names, as Op.Op holds them.
const (
	OpAdd     = "add"
	OpReplace = "replace"
	OpRemove  = "remove"
)

// Op is one PATCH operation after decoding; Op is "add", "replace" or
// "remove". Path is "" for an operation without a path. Value is the JSON
// value as decoded with json.Decoder.UseNumber (nil when absent or null).
type Op struct {
	Op    string
	Path  string
	Value any
}

// Decode parses a PatchOp request body (RFC 7644 §3.5.2): schemas must
// contain urn:ietf:params:scim:api:messages:2.0:PatchOp, Operations must be
// a non-empty array of at most MaxOperations objects, and each op must be
// add, replace or remove; add and replace need a value. Member names of the
// message are matched case-insensitively. Values are decoded with
// json.Decoder.UseNumber, so numbers arrive as json.Number.
//
// With o.Lenient, an op written in another case ("Replace") is lowercased
// (counted "op_case") and an empty Operations array decodes to no
// operations (counted "empty_operations"); in strict mode both are errors.
//
// Errors are *schemas.Error: invalidSyntax for a body that is not a JSON
// object, lacks the PatchOp schema, or has a malformed operation;
// invalidValue for an empty Operations array in strict mode or an add or
// replace without a value; tooMany for more than MaxOperations operations.
func Decode(body []byte, o schemas.Options) ([]Op, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body has data after the JSON object")
	}
	msg, ok := raw.(map[string]any)
	if !ok {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body must be a JSON object")
	}
	var (
		schemaList, opList any
		hasSchemas, hasOps bool
	)
	for k, v := range msg {
		switch strings.ToLower(k) {
		case "schemas":
			schemaList, hasSchemas = v, true
		case "operations":
			opList, hasOps = v, true
		}
	}
	if !hasSchemas || !containsPatchOpURN(schemaList) {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "schemas must contain %q", schemas.PatchOpURN)
	}
	if !hasOps {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request has no Operations")
	}
	list, ok := opList.([]any)
	if !ok {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "Operations must be an array of operations")
	}
	if len(list) == 0 {
		if !o.Lenient {
			return nil, schemas.Errorf(schemas.InvalidValue, "Operations must not be empty")
		}
		rewrote(o, "empty_operations")
		return []Op{}, nil
	}
	if len(list) > MaxOperations {
		return nil, schemas.Errorf(schemas.TooMany, "the request has %d operations; at most %d are allowed", len(list), MaxOperations)
	}
	ops := make([]Op, 0, len(list))
	for i, el := range list {
		op, err := decodeOp(i, el, o)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func decodeOp(i int, el any, o schemas.Options) (Op, error) {
	m, ok := el.(map[string]any)
	if !ok {
		return Op{}, schemas.Errorf(schemas.InvalidSyntax, "Operations[%d] must be an object", i)
	}
	var (
		op                       Op
		opName, path             any
		hasOp, hasPath, hasValue bool
	)
	for k, v := range m {
		switch strings.ToLower(k) {
		case "op":
			opName, hasOp = v, true
		case "path":
			path, hasPath = v, true
		case "value":
			op.Value, hasValue = v, true
		}
	}
	name, ok := opName.(string)
	if !hasOp || !ok {
		return Op{}, schemas.Errorf(schemas.InvalidSyntax, "Operations[%d] has no op; it must be add, replace or remove", i)
	}
	lower := strings.ToLower(name)
	switch lower {
	case OpAdd, OpReplace, OpRemove:
	default:
		return Op{}, schemas.Errorf(schemas.InvalidSyntax, "Operations[%d]: op %s is not add, replace or remove", i, quote(name))
	}
	if lower != name {
		if !o.Lenient {
			return Op{}, schemas.Errorf(schemas.InvalidSyntax, "Operations[%d]: op %s must be written %q", i, quote(name), lower)
		}
		rewrote(o, "op_case")
	}
	op.Op = lower
	if hasPath && path != nil {
		s, ok := path.(string)
		if !ok {
			return Op{}, schemas.Errorf(schemas.InvalidSyntax, "Operations[%d]: path must be a string", i)
		}
		op.Path = s
	}
	if !hasValue && op.Op != OpRemove {
		return Op{}, schemas.Errorf(schemas.InvalidValue, "Operations[%d] (%s): %s needs a value", i, op.Op, op.Op)
	}
	return op, nil
}

func containsPatchOpURN(v any) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, s := range list {
		if s, ok := s.(string); ok && strings.EqualFold(strings.TrimSpace(s), schemas.PatchOpURN) {
			return true
		}
	}
	return false
}

func rewrote(o schemas.Options, kind string) {
	if o.Rewrote != nil {
		o.Rewrote(kind)
	}
}
