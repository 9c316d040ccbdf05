package schemas

import (
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs scimd speaks.
const (
	UserURN          = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN         = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseURN    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListResponseURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpURN       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ErrorURN         = "urn:ietf:params:scim:api:messages:2.0:Error"
	SearchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	BulkRequestURN   = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkResponseURN  = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

	ServiceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeURN          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaURN                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// User is the User resource type: core User schema plus the Enterprise User
// extension (optional on every user).
var User = newResourceType("User", "/Users", "User Account", schema.CoreUserSchema(), enterpriseUserSchema())

// Group is the Group resource type: the core Group schema, no extensions.
var Group = newResourceType("Group", "/Groups", "Group", schema.CoreGroupSchema())

// resourceTypes lists every resource type scimd serves, User first.
var resourceTypes = []*ResourceType{User, Group}

// enterpriseUserSchema is elimity's Enterprise User extension with the
// schema name RFC 7643 §8.7.2 gives it ("EnterpriseUser", not
// "Enterprise User").
func enterpriseUserSchema() schema.Schema {
	s := schema.ExtensionEnterpriseUser()
	s.Name = optional.NewString("EnterpriseUser")
	return s
}

// correct brings the attribute tree built from elimity-com/scim's
// definitions in line with RFC 7643 §3.1, §8.7.1 and §8.7.2 and with what
// scimd enforces. elimity's constructors cannot express these (its
// reference attributes are always caseExact, for example), so the
// catalogue — which filter validation, projection and /Schemas all read —
// carries the corrected values; ResourceType.Schema keeps elimity's.
func correct(rt *ResourceType) {
	var walk func(a *Attr)
	walk = func(a *Attr) {
		// §8.7.1/§8.7.2 list every reference (profileUrl, photos.value,
		// groups.$ref, members.$ref, manager.$ref) with caseExact false.
		if a.Type == TypeReference {
			a.CaseExact = false
		}
		for _, s := range a.Sub {
			walk(s)
		}
	}
	for _, a := range rt.attrs {
		walk(a)
	}
	if a, ok := rt.Lookup("meta.location"); ok {
		a.ReferenceTypes = []string{"uri"}
	}
	if a, ok := rt.Lookup("meta"); ok {
		a.Description = "A complex attribute containing resource metadata."
	}
	if rt.Schema.ID == GroupURN {
		// The store refuses a second group with the same (case-folded)
		// displayName, and Entra requires exactly that; advertise it.
		if a, ok := rt.Lookup("displayName"); ok {
			a.Uniqueness = UniqueServer
		}
	}
}
