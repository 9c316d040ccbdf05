package schemas

import "strings"

// SPConfig is what the server supports, as the /ServiceProviderConfig
// document advertises it (RFC 7643 §5). Advertise only what works.
type SPConfig struct {
	PatchSupported          bool
	BulkSupported           bool
	BulkMaxOperations       int
	BulkMaxPayloadSize      int
	FilterSupported         bool
	FilterMaxResults        int
	ChangePasswordSupported bool
	SortSupported           bool
	ETagSupported           bool
	// Pagination, when set, is advertised as RFC 9865 §4 describes it.
	Pagination *Pagination
}

// Pagination is the "pagination" object of /ServiceProviderConfig (RFC
// 9865 §4): which paging methods the server supports and their limits.
type Pagination struct {
	Cursor                  bool   // cursor paging (cursor, nextCursor, previousCursor)
	Index                   bool   // index paging (startIndex)
	DefaultPaginationMethod string // "index" or "cursor": used when a request names neither
	DefaultPageSize         int    // the count of a request without one
	MaxPageSize             int    // the largest count honoured
	CursorTimeout           int    // seconds a cursor stays valid
}

// ServiceProviderConfig returns the /ServiceProviderConfig document (RFC
// 7643 §5, with RFC 9865's pagination when c has it) for the configuration
// c. base is the SCIM base URL without a trailing slash
// ("https://example.com/scim/v2"); meta.location is built from it. The
// result encodes with encoding/json.
func ServiceProviderConfig(base string, c SPConfig) map[string]any {
	doc := map[string]any{
		"schemas": []any{ServiceProviderConfigURN},
		"patch":   map[string]any{"supported": c.PatchSupported},
		"bulk": map[string]any{
			"supported":      c.BulkSupported,
			"maxOperations":  c.BulkMaxOperations,
			"maxPayloadSize": c.BulkMaxPayloadSize,
		},
		"filter": map[string]any{
			"supported":  c.FilterSupported,
			"maxResults": c.FilterMaxResults,
		},
		"changePassword": map[string]any{"supported": c.ChangePasswordSupported},
		"sort":           map[string]any{"supported": c.SortSupported},
		"etag":           map[string]any{"supported": c.ETagSupported},
		"authenticationSchemes": []any{
			map[string]any{
				"type":        "oauthbearertoken",
				"name":        "OAuth Bearer Token",
				"description": "Authentication with a bearer token issued by `scimd token create`.",
				"primary":     true,
			},
		},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	}
	if p := c.Pagination; p != nil {
		doc["pagination"] = map[string]any{
			"cursor":                  p.Cursor,
			"index":                   p.Index,
			"defaultPaginationMethod": p.DefaultPaginationMethod,
			"defaultPageSize":         p.DefaultPageSize,
			"maxPageSize":             p.MaxPageSize,
			"cursorTimeout":           p.CursorTimeout,
		}
	}
	return doc
}

// ResourceTypes returns the /ResourceTypes documents (RFC 7643 §6), one
// per resource type the server serves: User, then Group. base is the SCIM
// base URL without a trailing slash. The results encode with
// encoding/json.
func ResourceTypes(base string) []map[string]any {
	out := make([]map[string]any, 0, len(resourceTypes))
	for _, rt := range resourceTypes {
		out = append(out, resourceTypeDoc(base, rt))
	}
	return out
}

// ResourceTypeDoc returns the /ResourceTypes document of the resource type
// with the given name ("User", "Group"), matched case-insensitively. The
// second result is false when there is no such resource type.
func ResourceTypeDoc(base, name string) (map[string]any, bool) {
	for _, rt := range resourceTypes {
		if strings.EqualFold(rt.Name, name) {
			return resourceTypeDoc(base, rt), true
		}
	}
	return nil, false
}

func resourceTypeDoc(base string, rt *ResourceType) map[string]any {
	doc := map[string]any{
		"schemas":     []any{ResourceTypeURN},
		"id":          rt.Name,
		"name":        rt.Name,
		"endpoint":    rt.Endpoint,
		"description": rt.Description,
		"schema":      rt.Schema.ID,
		"meta": map[string]any{
			"resourceType": "ResourceType",
			"location":     base + "/ResourceTypes/" + rt.Name,
		},
	}
	if len(rt.Extensions) > 0 {
		exts := make([]any, 0, len(rt.Extensions))
		for _, e := range rt.Extensions {
			exts = append(exts, map[string]any{"schema": e.ID, "required": false})
		}
		doc["schemaExtensions"] = exts
	}
	return doc
}

// SchemaDocs returns the /Schemas documents (RFC 7643 §7) of every schema
// the server serves, each once: the core User schema, the Enterprise User
// extension, then the core Group schema. They are rendered from the
// corrected attribute catalogue (ResourceType.Attrs), so they advertise
// what scimd enforces. The common attributes id, externalId and meta
// belong to no schema (RFC 7643 §3.1) and are not listed. base is the SCIM
// base URL without a trailing slash. The results encode with
// encoding/json.
func SchemaDocs(base string) []map[string]any {
	var out []map[string]any
	seen := map[string]bool{}
	for _, rt := range resourceTypes {
		for _, urn := range schemaURNs(rt) {
			if seen[urn] {
				continue
			}
			seen[urn] = true
			doc, _ := schemaDoc(base, rt, urn)
			out = append(out, doc)
		}
	}
	return out
}

// SchemaDoc returns the /Schemas document of the schema with the given
// URN, matched case-insensitively. The second result is false when the
// server serves no such schema.
func SchemaDoc(base, urn string) (map[string]any, bool) {
	for _, rt := range resourceTypes {
		if canonical, ok := rt.schemaURN(urn); ok {
			return schemaDoc(base, rt, canonical)
		}
	}
	return nil, false
}

// schemaURNs returns the URNs of rt's core schema and its extensions.
func schemaURNs(rt *ResourceType) []string {
	urns := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		urns = append(urns, e.ID)
	}
	return urns
}

// schemaDoc renders the schema urn (canonical: rt's core schema or one of
// its extensions) from rt's catalogue.
func schemaDoc(base string, rt *ResourceType, urn string) (map[string]any, bool) {
	s := rt.Schema
	if urn != s.ID {
		found := false
		for _, e := range rt.Extensions {
			if e.ID == urn {
				s, found = e, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	attrs := []any{}
	for _, a := range rt.attrs {
		if a.Schema == urn {
			attrs = append(attrs, attrDoc(a))
		}
	}
	return map[string]any{
		"schemas":     []any{SchemaURN},
		"id":          s.ID,
		"name":        s.Name.Value(),
		"description": s.Description.Value(),
		"attributes":  attrs,
		"meta": map[string]any{
			"resourceType": "Schema",
			"location":     base + "/Schemas/" + s.ID,
		},
	}, true
}

// attrDoc renders one attribute definition (RFC 7643 §7) with its
// sub-attributes.
func attrDoc(a *Attr) map[string]any {
	m := map[string]any{
		"name":        a.Name,
		"type":        a.Type,
		"multiValued": a.MultiValued,
		"description": a.Description,
		"required":    a.Required,
		"caseExact":   a.CaseExact,
		"mutability":  a.Mutability,
		"returned":    a.Returned,
		"uniqueness":  a.Uniqueness,
	}
	if len(a.Canonical) > 0 {
		m["canonicalValues"] = stringsToAny(a.Canonical)
	}
	if a.Type == TypeReference {
		m["referenceTypes"] = stringsToAny(a.ReferenceTypes)
	}
	if a.Type == TypeComplex {
		subs := make([]any, 0, len(a.Sub))
		for _, s := range a.Sub {
			subs = append(subs, attrDoc(s))
		}
		m["subAttributes"] = subs
	}
	return m
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
