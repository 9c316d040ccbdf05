package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// validRoles are the roles a user can have, in the order the error lists them.
var validRoles = []string{store.RoleOwner, store.RoleAdmin, store.RoleMember, store.RoleViewer, store.RoleGuest}

// readJSON decodes a request body that must be one JSON object, keeping
// numbers as json.Number. Malformed JSON is a 400 invalidSyntax.
func readJSON(r *http.Request) (map[string]any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeObject(body)
}

// readBody reads the whole (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body could not be read")
	}
	return body, nil
}

func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "the request body has data after the JSON object")
	}
	return m, nil
}

// userColumns derives the user's columns from its canonical document and
// puts the role back into the document as its single primary role. It
// returns a *schemas.Error for an unknown role.
func userColumns(u *store.User, doc map[string]any) error {
	u.UserName = str(doc["userName"])
	u.ExternalID = str(doc["externalId"])
	u.DisplayName = str(doc["displayName"])
	name, _ := doc["name"].(map[string]any)
	u.GivenName, u.FamilyName = str(name["givenName"]), str(name["familyName"])
	if b, ok := doc["active"].(bool); ok {
		u.Active = b
	}
	// Like roles, active lives in its column, not in the stored document.
	delete(doc, "active")
	u.Emails = u.Emails[:0]
	emails, _ := doc["emails"].([]any)
	for _, e := range emails {
		m, _ := e.(map[string]any)
		if v := str(m["value"]); v != "" {
			p, _ := m["primary"].(bool)
			u.Emails = append(u.Emails, store.Email{Value: v, Type: str(m["type"]), Primary: p})
		}
	}
	if roles, ok := doc["roles"].([]any); ok && len(roles) > 0 {
		role := ""
		for _, r := range roles {
			m, _ := r.(map[string]any)
			v := strings.ToLower(str(m["value"]))
			if !slices.Contains(validRoles, v) {
				return schemas.Errorf(schemas.InvalidValue, "roles value %q is not one of %s", str(m["value"]), strings.Join(validRoles, ", "))
			}
			if p, _ := m["primary"].(bool); p || role == "" {
				role = v
			}
		}
		u.Role = role
	}
	// A create without roles leaves Role empty: the provision service
	// makes the user a member (or gives a restored user its old role).
	// The role column is authoritative; renderUser writes roles from it.
	delete(doc, "roles")
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func encodeDoc(doc map[string]any) json.RawMessage {
	b, err := json.Marshal(doc)
	if err != nil {
		// Normalised documents hold only JSON-encodable values.
		panic("scim: encoding a document: " + err.Error())
	}
	return b
}

func decodeDoc(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// parseETag reads a version from an entity tag: W/"3", "3" (and * as nil).
func parseETag(v string) (*int64, bool) {
	v = strings.TrimSpace(v)
	if v == "*" {
		return nil, true
	}
	v = strings.TrimPrefix(v, "W/")
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
	if err != nil {
		return nil, false
	}
	return &n, true
}

// ifMatch returns the version an If-Match header demands (nil for none or
// "*"). A malformed or multi-valued header can never match: 412.
func ifMatch(r *http.Request) (*int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return nil, nil
	}
	v, ok := parseETag(h)
	if !ok {
		return nil, store.ErrPrecondition
	}
	return v, nil
}

func meta(rtype, location string, created, modified time.Time, version int64) map[string]any {
	return map[string]any{
		"resourceType": rtype,
		"created":      created.UTC().Format(time.RFC3339Nano),
		"lastModified": modified.UTC().Format(time.RFC3339Nano),
		"location":     location,
		"version":      etag(version),
	}
}

// renderUserJSON renders a user for the default projection without
// decoding its stored document: the document (which never holds id, meta,
// schemas, groups, roles or password) is spliced with the server-owned
// attributes. It is the list and GET fast path; renderUser is the general
// one. A stored document that is not a JSON object is an error.
func renderUserJSON(u *store.User, groups []store.GroupRef, base string) (json.RawMessage, error) {
	doc := bytes.TrimSpace(u.Doc)
	if len(doc) < 2 || doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, fmt.Errorf("scim: stored document of user %s is not a JSON object", u.ID)
	}
	tail := map[string]any{
		"id":   u.ID,
		"meta": meta("User", base+"/Users/"+u.ID, u.Created, u.Modified, u.Version),
	}
	sch := []any{schemas.UserURN}
	if bytes.Contains(doc, []byte(`"`+schemas.EnterpriseURN+`"`)) {
		sch = append(sch, schemas.EnterpriseURN)
	}
	tail["schemas"] = sch
	if u.Role != "" {
		tail["roles"] = []any{map[string]any{"value": u.Role, "primary": true}}
	}
	if len(groups) > 0 {
		gs := make([]any, len(groups))
		for i, g := range groups {
			gs[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "$ref": base + "/Groups/" + g.ID, "type": "direct"}
		}
		tail["groups"] = gs
	}
	// active comes last: the column is authoritative even over an "active"
	// an older row may still carry in its document.
	tail["active"] = u.Active
	extra, err := json.Marshal(tail)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(doc)+len(extra)+1)
	out = append(out, doc[:len(doc)-1]...)
	if len(bytes.TrimSpace(doc[1:len(doc)-1])) > 0 {
		out = append(out, ',')
	}
	return append(out, extra[1:]...), nil
}

// renderUser builds the SCIM representation of a user.
func renderUser(u *store.User, groups []store.GroupRef, base string) (map[string]any, error) {
	doc, err := decodeDoc(u.Doc)
	if err != nil {
		return nil, err
	}
	doc["id"] = u.ID
	doc["active"] = u.Active
	if u.Role != "" {
		doc["roles"] = []any{map[string]any{"value": u.Role, "primary": true}}
	}
	sch := []any{schemas.UserURN}
	if _, ok := doc[schemas.EnterpriseURN]; ok {
		sch = append(sch, schemas.EnterpriseURN)
	}
	doc["schemas"] = sch
	doc["meta"] = meta("User", base+"/Users/"+u.ID, u.Created, u.Modified, u.Version)
	if len(groups) > 0 {
		gs := make([]any, len(groups))
		for i, g := range groups {
			gs[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "$ref": base + "/Groups/" + g.ID, "type": "direct"}
		}
		doc["groups"] = gs
	}
	return doc, nil
}

// renderGroup builds the SCIM representation of a group; members is nil
// when the caller did not load them.
func renderGroup(g *store.Group, members []store.Member, withMembers bool, base string) (map[string]any, error) {
	doc, err := decodeDoc(g.Doc)
	if err != nil {
		return nil, err
	}
	doc["id"] = g.ID
	doc["schemas"] = []any{schemas.GroupURN}
	doc["meta"] = meta("Group", base+"/Groups/"+g.ID, g.Created, g.Modified, g.Version)
	// An empty member list is unassigned (RFC 7643 §2.5) and left out.
	if withMembers && len(members) > 0 {
		ms := make([]any, len(members))
		for i, m := range members {
			display := m.DisplayName
			if display == "" {
				display = m.UserName
			}
			typ, ref := store.MemberUser, base+"/Users/"+m.ID
			if m.Type == store.MemberGroup {
				typ, ref = store.MemberGroup, base+"/Groups/"+m.ID
			}
			ms[i] = map[string]any{"value": m.ID, "display": display, "$ref": ref, "type": typ}
		}
		doc["members"] = ms
	}
	return doc, nil
}
