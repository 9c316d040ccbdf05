package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/store"
)

// SCIM schema URNs the request bodies use.
const (
	urnUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	urnEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

var (
	firstNames = []string{"Amara", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Goran", "Hana", "Ivo", "Jun",
		"Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tove"}
	lastNames = []string{"Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
		"Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva", "Tanaka"}
	departments = []string{"Engineering", "Sales", "Finance", "Support", "Legal", "Marketing", "Operations"}
	jobTitles   = []string{"Engineer", "Account Manager", "Analyst", "Team Lead", "Designer", "Director", "Specialist"}
)

// profile is one user's attributes; the seeded stored document and the
// POST body of a created user are both derived from it.
type profile struct {
	userName, externalID, email string
	given, family               string
	title, department           string
	phone, employeeNumber       string
	costCenter                  string
}

// person fills the attributes that depend only on a number.
func person(n int) profile {
	g := firstNames[n%len(firstNames)]
	f := lastNames[(n/len(firstNames))%len(lastNames)]
	return profile{
		given: g, family: f,
		title:          jobTitles[n%len(jobTitles)],
		department:     departments[(n/3)%len(departments)],
		phone:          fmt.Sprintf("+1-555-%07d", n%10000000),
		employeeNumber: strconv.Itoa(500000 + n),
		costCenter:     "CC-" + strconv.Itoa(n%113),
	}
}

// seedProfile is the seeded user number idx (0-based). Its userName,
// externalId and email are derived from idx alone, so the lookup phases
// can name any seeded user without having read it.
func seedProfile(idx int) profile {
	p := person(idx)
	p.userName = seedUserName(idx)
	p.externalID = seedExternalID(idx)
	p.email = p.userName // Okta's default: the primary work email is the login
	return p
}

func seedUserName(idx int) string {
	return fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(firstNames[idx%len(firstNames)]),
		strings.ToLower(lastNames[(idx/len(firstNames))%len(lastNames)]), idx)
}

// seedExternalID looks like an Okta user id: "00u" and 17 more characters.
func seedExternalID(idx int) string { return fmt.Sprintf("00u%017d", idx) }

// newProfile is the user a create phase POSTs: tag (unique per run)
// keeps repeated runs against one database from colliding.
func newProfile(tag string, seq int64) profile {
	p := person(int(seq))
	p.userName = fmt.Sprintf("new.%s.%s.%d@example.com", strings.ToLower(p.given), tag, seq)
	p.externalID = fmt.Sprintf("00n%s%011d", tag, seq)
	p.email = p.userName
	return p
}

func groupName(j int) string { return fmt.Sprintf("bench-group-%05d", j) }

// The stored document: what scim's userColumns leaves of a normalised
// Okta body (no schemas, id, meta, groups, roles, active or password).
// Fields are in the order encoding/json writes a map's keys, so the bytes
// equal what the SCIM layer stores.
type docName struct {
	FamilyName string `json:"familyName"`
	Formatted  string `json:"formatted"`
	GivenName  string `json:"givenName"`
}

type docEmail struct {
	Primary bool   `json:"primary"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

type docPhone struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type docEnterprise struct {
	CostCenter     string `json:"costCenter"`
	Department     string `json:"department"`
	Division       string `json:"division"`
	EmployeeNumber string `json:"employeeNumber"`
	Organization   string `json:"organization"`
}

type storedDoc struct {
	DisplayName  string        `json:"displayName"`
	Emails       []docEmail    `json:"emails"`
	ExternalID   string        `json:"externalId"`
	Locale       string        `json:"locale"`
	Name         docName       `json:"name"`
	PhoneNumbers []docPhone    `json:"phoneNumbers"`
	Timezone     string        `json:"timezone"`
	Title        string        `json:"title"`
	Enterprise   docEnterprise `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	UserName     string        `json:"userName"`
}

func (p profile) stored() storedDoc {
	return storedDoc{
		DisplayName:  p.given + " " + p.family,
		Emails:       []docEmail{{Primary: true, Type: "work", Value: p.email}},
		ExternalID:   p.externalID,
		Locale:       "en-US",
		Name:         docName{FamilyName: p.family, Formatted: p.given + " " + p.family, GivenName: p.given},
		PhoneNumbers: []docPhone{{Type: "mobile", Value: p.phone}},
		Timezone:     "America/New_York",
		Title:        p.title,
		Enterprise: docEnterprise{CostCenter: p.costCenter, Department: p.department,
			Division: p.department + " Division", EmployeeNumber: p.employeeNumber, Organization: "Example Corp"},
		UserName: p.userName,
	}
}

// postBody is the body Okta's connector sends to create the user: the
// stored attributes plus schemas and active, about 800 bytes.
func (p profile) postBody() []byte {
	type body struct {
		Schemas []string `json:"schemas"`
		storedDoc
		Active bool `json:"active"`
	}
	b, err := json.Marshal(body{Schemas: []string{urnUser, urnEnterprise}, storedDoc: p.stored(), Active: true})
	if err != nil {
		panic(err) // plain strings and bools always encode
	}
	return b
}

// storeUser is the row the SCIM layer and provision.CreateUser would
// write for p: columns derived from the document, role member, active.
func (p profile) storeUser(tenantID string, now time.Time) store.User {
	doc, err := json.Marshal(p.stored())
	if err != nil {
		panic(err)
	}
	return store.User{
		TenantID:    tenantID,
		ID:          uuid.Must(uuid.NewV7()).String(),
		UserName:    p.userName,
		ExternalID:  p.externalID,
		Active:      true,
		DisplayName: p.given + " " + p.family,
		GivenName:   p.given,
		FamilyName:  p.family,
		Role:        store.RoleMember,
		State:       store.StateActive,
		Emails:      []store.Email{{Value: p.email, Type: "work", Primary: true}},
		Doc:         doc,
		Version:     1,
		Created:     now,
		Modified:    now,
	}
}

// Okta's PATCH for (de)activation: replace without a path, the value an
// object.
var (
	patchDeactivate = []byte(`{"schemas":["` + urnPatchOp + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	patchActivate   = []byte(`{"schemas":["` + urnPatchOp + `"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
)

func patchBody(active bool) []byte {
	if active {
		return patchActivate
	}
	return patchDeactivate
}

// filterQuery is the query Okta sends before a create: one eq filter, with
// startIndex and count; spaces are %20 as Okta writes them.
func filterQuery(filter string) string {
	return "/Users?filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20") + "&startIndex=1&count=100"
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func userNameQuery(userName string) string { return filterQuery("userName eq " + quote(userName)) }

func externalIDQuery(externalID string) string {
	return filterQuery("externalId eq " + quote(externalID))
}

func emailQuery(email string) string {
	return filterQuery(`emails[type eq "work"].value eq ` + quote(email))
}
