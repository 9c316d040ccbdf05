package scim

import (
	"errors"
	"reflect"
	"testing"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// FuzzResource feeds any bytes to the decoding a POST or PUT of /Users and
// /Groups runs before the database (decodeObject, schemas.Normalize,
// schemas.MissingRequired, userColumns, takeMembers, groupColumns), for
// both resource types, leniently and strictly. Whatever the input, nothing
// panics and either a *schemas.Error (a SCIM 400) comes back or the
// canonical document satisfies these properties: it encodes to JSON, it
// decodes back to itself, it is a fixed point of Normalize in both modes
// (the canonical form is canonical), it holds no more values than the
// limits allow, and, for a user, the columns derived from it are those of
// the re-read document. The seed corpus is in testdata/fuzz/FuzzResource
// (the POST and PUT bodies of the replayed Okta and Entra flows, and what
// fuzzing found).
func FuzzResource(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com","name":{"givenName":"Barbara","familyName":"Jensen"},"emails":[{"primary":true,"value":"bjensen@example.com","type":"work"}],"displayName":"Babs","active":true}`,
		`{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"R&D","name.givenName":"G","emails":"a@b"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[{"value":"u1","display":"U"},"u2"]}`,
		`{"userName":"r","roles":[{"value":"admin","primary":true}],"active":"True","x509Certificates":[{"value":"TUlJQw=="}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		in, err := decodeObject([]byte(body))
		if err != nil {
			mustSCIMError(t, "decodeObject", err)
			return
		}
		for _, rt := range []*schemas.ResourceType{schemas.User, schemas.Group} {
			for _, o := range []schemas.Options{{Lenient: true}, {}} {
				doc, err := schemas.Normalize(rt, in, o)
				if err != nil {
					mustSCIMError(t, "Normalize", err)
					continue
				}
				_ = schemas.MissingRequired(rt, doc)
				if err := schemas.CheckValueCounts(rt, doc); err != nil {
					t.Fatalf("%s: Normalize let through %v", rt.Name, err)
				}
				raw := encodeDoc(doc)
				again, err := decodeDoc(raw)
				if err != nil {
					t.Fatalf("%s: the canonical document does not decode: %v\n%s", rt.Name, err, raw)
				}
				if !reflect.DeepEqual(again, doc) {
					t.Fatalf("%s: the canonical document changed through JSON:\n%#v\n%#v", rt.Name, doc, again)
				}
				for _, o2 := range []schemas.Options{{Lenient: true}, {}} {
					fixed, err := schemas.Normalize(rt, again, o2)
					if err != nil {
						t.Fatalf("%s: the canonical document %s is refused (lenient %v): %v", rt.Name, raw, o2.Lenient, err)
					}
					if !reflect.DeepEqual(fixed, doc) {
						t.Fatalf("%s: Normalize is not idempotent (lenient %v):\n%s\n%s", rt.Name, o2.Lenient, raw, encodeDoc(fixed))
					}
				}
				if rt == schemas.Group {
					ids := takeMembers(doc)
					var g store.Group
					groupColumns(&g, doc)
					for _, id := range ids {
						if id == "" {
							t.Fatalf("an empty member id from %s", raw)
						}
					}
					continue
				}
				var u, u2 store.User
				errA := userColumns(&u, doc)
				if errA != nil {
					mustSCIMError(t, "userColumns", errA)
					continue
				}
				if err := userColumns(&u2, again); err != nil || !reflect.DeepEqual(u, u2) {
					t.Fatalf("the re-read document gives other columns (%v):\n%+v\n%+v", err, u, u2)
				}
			}
		}
	})
}

// mustSCIMError fails the test unless err is a *schemas.Error, the error
// the HTTP layer answers with a 400 and its SCIM type.
func mustSCIMError(t *testing.T, what string, err error) {
	t.Helper()
	var se *schemas.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %T %v is not a SCIM error", what, err, err)
	}
	if se.ScimType == "" || se.Detail == "" {
		t.Fatalf("%s: SCIM error without a type or detail: %+v", what, se)
	}
	if e, internal := classify(err); internal || e.Status != 400 {
		t.Fatalf("%s: %v is answered %d", what, err, e.Status)
	}
}
