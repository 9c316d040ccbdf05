package schemas

import (
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Attribute data types, as RFC 7643 §2.3 names them.
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeReference = "reference"
	TypeBinary    = "binary"
	TypeComplex   = "complex"
)

// Mutability values (RFC 7643 §7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"
)

// Returned values (RFC 7643 §7): when an attribute appears in responses.
const (
	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Uniqueness values (RFC 7643 §7).
const (
	UniqueNone   = "none"
	UniqueServer = "server"
	UniqueGlobal = "global"
)

// Attr describes one attribute of a resource type: what filter validation,
// projection, PATCH and /Schemas need to know about it. The values are
// shared by every caller and must not be modified.
type Attr struct {
	Name string // canonical name, e.g. "givenName"
	// Path is the canonical path: "userName", "name.givenName" for core and
	// common attributes; extension attributes carry their URN:
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
	Path string
	// Schema is the URN of the schema that defines the attribute; it is
	// empty for the common attributes id, externalId and meta (RFC 7643
	// §3.1), which belong to no schema and sit next to the core attributes.
	Schema string
	// Extension is true for attributes of an extension schema: in a
	// document they live in the object under the extension's URN key.
	Extension      bool
	Type           string // one of the Type constants
	Description    string
	MultiValued    bool
	Required       bool
	CaseExact      bool
	Mutability     string   // one of the mutability constants
	Returned       string   // one of the Returned constants
	Uniqueness     string   // one of the Unique constants
	Canonical      []string // canonicalValues; nil when there are none
	ReferenceTypes []string // referenceTypes of a reference attribute
	Sub            []*Attr  // sub-attributes of a complex attribute
	Parent         *Attr    // the complex attribute this is a sub-attribute of
}

// SubAttr returns the sub-attribute with the given name, case-insensitively.
// The second result is false when a has no such sub-attribute.
func (a *Attr) SubAttr(name string) (*Attr, bool) {
	for _, s := range a.Sub {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return nil, false
}

// ResourceType is one SCIM resource type with its schemas and attributes.
//
// Schema and Extensions are the github.com/elimity-com/scim definitions the
// catalogue was built from. The catalogue (Lookup, Attrs) corrects them
// where they disagree with RFC 7643 §8.7 and is what scimd serves and
// enforces; do not render Schema.ToMap() — use SchemaDocs.
type ResourceType struct {
	Name        string // "User", "Group"
	Endpoint    string // "/Users"
	Description string
	Schema      schema.Schema   // the core schema
	Extensions  []schema.Schema // extension schemas (all optional)
	attrs       []*Attr         // top-level: common, then core, then extension attributes
	index       map[string]*Attr
	urns        []string // lower-case URNs of the core schema and the extensions
}

// Attrs returns the top-level attributes: the common attributes (id,
// externalId, meta), then the core schema's, then every extension's. The
// slice is shared and must not be modified.
func (rt *ResourceType) Attrs() []*Attr { return rt.attrs }

// IsExtension reports whether urn names one of the resource type's
// extension schemas (case-insensitively) and returns its canonical URN.
func (rt *ResourceType) IsExtension(urn string) (string, bool) {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e.ID, true
		}
	}
	return "", false
}

// schemaURN returns the canonical URN when urn names the core schema or an
// extension of rt, case-insensitively.
func (rt *ResourceType) schemaURN(urn string) (string, bool) {
	if strings.EqualFold(rt.Schema.ID, urn) {
		return rt.Schema.ID, true
	}
	return rt.IsExtension(urn)
}

// SchemasOf returns the value of the "schemas" attribute for a canonical
// document: the core schema URN, then the URN of every extension the
// document has an object for.
func (rt *ResourceType) SchemasOf(doc map[string]any) []any {
	out := []any{rt.Schema.ID}
	for _, e := range rt.Extensions {
		if m, ok := doc[e.ID].(map[string]any); ok && len(m) > 0 {
			out = append(out, e.ID)
		}
	}
	return out
}

// Lookup resolves an attribute path as a client writes it to the attribute
// it names. Names are case-insensitive; the path is a top-level attribute
// or one sub-attribute ("userName", "NAME.givenName", "emails.value",
// "meta.created"), optionally qualified by its schema URN
// ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").
// Common attributes (id, externalId, meta) may carry the core schema's URN.
// An extension attribute may be written without its URN when no core
// attribute and no other extension uses the name (RFC 7644 §3.10 only says
// clients SHOULD qualify them), and the URN may be followed by "." instead
// of ":" (an old Entra ID form). Value filters ("emails[type eq \"work\"]")
// are not paths; strip them first. The second result is false for a path
// that names no attribute.
func (rt *ResourceType) Lookup(path string) (*Attr, bool) {
	p := strings.ToLower(path)
	if a, ok := rt.index[p]; ok {
		return a, true
	}
	for _, urn := range rt.urns {
		if len(p) > len(urn) && p[len(urn)] == '.' && strings.HasPrefix(p, urn) {
			a, ok := rt.index[urn+":"+p[len(urn)+1:]]
			return a, ok
		}
	}
	return nil, false
}

// newResourceType builds the attribute tree and the look-up index of a
// resource type from the schema package's definitions.
func newResourceType(name, endpoint, description string, core schema.Schema, ext ...schema.Schema) *ResourceType {
	rt := &ResourceType{
		Name: name, Endpoint: endpoint, Description: description,
		Schema: core, Extensions: ext,
		index: map[string]*Attr{},
		urns:  []string{strings.ToLower(core.ID)},
	}
	for _, ca := range schema.CommonAttributes() {
		if ca.Name() == "schemas" {
			continue // handled by every operation itself, never a plain attribute
		}
		rt.attrs = append(rt.attrs, convert(ca, "", false, nil))
	}
	for _, ca := range core.Attributes {
		rt.attrs = append(rt.attrs, convert(ca, core.ID, false, nil))
	}
	for _, e := range ext {
		rt.urns = append(rt.urns, strings.ToLower(e.ID))
		for _, ca := range e.Attributes {
			rt.attrs = append(rt.attrs, convert(ca, e.ID, true, nil))
		}
	}

	// Every form a path can take, lower-cased. Unqualified names of
	// extension attributes are added last, and only when unambiguous.
	add := func(key string, a *Attr) {
		key = strings.ToLower(key)
		rt.index[key] = a
		for _, s := range a.Sub {
			rt.index[key+"."+strings.ToLower(s.Name)] = s
		}
	}
	bare := map[string][]*Attr{}
	for _, a := range rt.attrs {
		if a.Extension {
			add(a.Schema+":"+a.Name, a)
			bare[strings.ToLower(a.Name)] = append(bare[strings.ToLower(a.Name)], a)
			continue
		}
		add(a.Name, a)
		add(core.ID+":"+a.Name, a)
	}
	for n, as := range bare {
		if _, taken := rt.index[n]; !taken && len(as) == 1 {
			add(n, as[0])
		}
	}
	correct(rt)
	return rt
}

func convert(ca schema.CoreAttribute, urn string, extension bool, parent *Attr) *Attr {
	a := &Attr{
		Name:        ca.Name(),
		Schema:      urn,
		Extension:   extension,
		Type:        ca.AttributeType(),
		Description: ca.Description(),
		MultiValued: ca.MultiValued(),
		Required:    ca.Required(),
		CaseExact:   ca.CaseExact(),
		Mutability:  ca.Mutability(),
		Returned:    ca.Returned(),
		Uniqueness:  ca.Uniqueness(),
		Canonical:   ca.CanonicalValues(),
		Parent:      parent,
	}
	for _, t := range ca.ReferenceTypes() {
		a.ReferenceTypes = append(a.ReferenceTypes, string(t))
	}
	switch {
	case parent != nil:
		a.Path = parent.Path + "." + a.Name
	case extension:
		a.Path = urn + ":" + a.Name
	default:
		a.Path = a.Name
	}
	for _, s := range ca.SubAttributes() {
		a.Sub = append(a.Sub, convert(s, urn, extension, a))
	}
	return a
}
