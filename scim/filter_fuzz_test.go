package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/schemas"
)

// filterSeeds are the filters of CLIENTS.md (Okta, Entra ID, their
// validators and Postman collections) and of RFC 7644 §3.4.2.2, and a few
// that exercise every part of the grammar.
var filterSeeds = []string{
	`userName eq "bjensen"`,
	`userName eq "BJENSEN@example.com"`,
	`userName+eq+"dale.mohr%40romaguera.uk"`,
	`externalId eq jyoung`,
	`externalId eq "00u1abcd"`,
	`id eq "2819c223-7f76-453a-919d-413861904646"`,
	`DisplayName eq "Sales"`,
	`displayName eq "Sales"`,
	`userName sw O`,
	`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
	`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`,
	`active eq true and (meta.lastModified ge "0001-01-03T00:00:00.0000000Z" and meta.lastModified le "2030-01-01T00:00:00Z")`,
	`(ActiVe eq true) and meta.lastmodified ge "2011-05-13T04:42:34Z"`,
	`members[value eq "2819c223-7f76-453a-919d-413861904646"]`,
	`emails[type eq "work"].value eq "bjensen@example.com"`,
	`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
	`name.familyName co "O'Malley"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department eq "R&D"`,
	`title pr`,
	`title pr and userType eq "Employee"`,
	`title pr or userType eq "Intern"`,
	`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
	`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
	`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
	`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
	`addresses[type eq "work" or postalCode pr]`,
	`phoneNumbers[primary eq true and type eq "mobile"].value sw "+1"`,
	`x509Certificates.value eq "TUlJQw=="`,
	`groups[display eq "Sales"]`,
	`members[type eq "Group" and display sw "Eng"]`,
	`meta.location co "/Users/"`,
	`meta.version eq "W/\"1\""`,
	`meta.resourceType eq "User"`,
	`displayName eq null`,
	`emails.value ne null`,
	`active eq "true"`,
	`active gt true`,
	`name.givenName eq "Zoë" or name.givenName eq "İstanbul" or nickName eq "straße"`,
	`not (not (userName pr))`,
	`userName eq "a\"b\\c"`,
	`emails[not (type eq "home")]`,
	`emails[type eq "work"`,
	`userName eq "unterminated`,
	`(((userName pr)))`,
	`userName pr and`,
	`password eq "x"`,
	`name eq "x"`,
	`addresses eq "x"`,
	`meta.created gt 12`,
	`userName eq 1.5e3`,
	"userName eq \"\xff\"",
	`userName eq "\u0000"`,
	`vpx0 pr`,
	`]`,
	`[`,
	``,
}

// FuzzFilter sends filter text through the real HTTP handler, on every
// backend configured (SQLite, and PostgreSQL when TEST_DATABASE_URL is
// set), for Users and Groups, in lenient and strict tenants, so that the
// text is parsed and compiled into each dialect's SQL and run. Whatever the
// text: parseFilter never panics and either returns a *schemas.Error of
// type invalidFilter or a filter within the depth limit; the answer is 200
// or a 400 invalidFilter SCIM error (never a 500); and a filter parseFilter
// refuses is never answered 200. The seed corpus is filterSeeds and
// testdata/fuzz/FuzzFilter (the filters of the replayed Okta and Entra
// flows, and what fuzzing found).
func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	type target struct {
		h            http.Handler
		token, other string // lenient and strict tenants' tokens
	}
	var targets []target
	backends := []string{"sqlite"}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		backends = append(backends, "postgres")
	}
	for _, b := range backends {
		s := testenv.Open(f, b)
		tg := target{}
		svc := provision.New(s, nil, nil)
		tg.h = NewServer(Config{Store: s, Provision: svc, Metrics: obs.NewMetrics()})
		tg.token = fuzzTenant(f, svc, "lenient")
		tg.other = fuzzTenant(f, svc, "strict")
		if _, err := svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "test"}, "strict", "", []string{"strict=true"}); err != nil {
			f.Fatal(err)
		}
		seedDirectory(f, tg.h, tg.token)
		targets = append(targets, tg)
	}
	f.Fuzz(func(t *testing.T, text string) {
		// The handler trims the filter before parsing it.
		trimmed := strings.TrimSpace(text)
		refused := map[string]bool{} // "/Users true" → parseFilter refused it leniently
		for _, rt := range []*schemas.ResourceType{schemas.User, schemas.Group} {
			for _, lenient := range []bool{true, false} {
				got, err := parseFilter(rt, trimmed, schemas.Options{Lenient: lenient})
				if err != nil {
					var se *schemas.Error
					if !errors.As(err, &se) || se.ScimType != schemas.InvalidFilter || se.Detail == "" {
						t.Fatalf("parseFilter(%s, %q): %T %v is not an invalidFilter error", rt.Name, text, err, err)
					}
					refused[fmt.Sprint(rt.Endpoint, lenient)] = true
					continue
				}
				if got != nil && depth(got) > MaxFilterDepth {
					t.Fatalf("parseFilter(%s, %q) is %d deep", rt.Name, text, depth(got))
				}
			}
		}
		blank := trimmed == ""
		for _, tg := range targets {
			for _, path := range []string{"/Users", "/Groups"} {
				for _, tok := range []string{tg.token, tg.other} {
					r := httptest.NewRequest("GET", "/scim/v2"+path+"?count=3&filter="+url.QueryEscape(text), nil)
					r.Header.Set("Authorization", "Bearer "+tok)
					w := httptest.NewRecorder()
					tg.h.ServeHTTP(w, r)
					switch w.Code {
					case http.StatusOK:
						if refused[fmt.Sprint(path, tok == tg.token)] && !blank {
							t.Fatalf("GET %s filter %q: 200 for a filter parseFilter refuses", path, text)
						}
					case http.StatusBadRequest:
						checkErrorBody(t, w.Code, w.Body.Bytes())
						var e struct {
							ScimType string `json:"scimType"`
						}
						if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.ScimType != schemas.InvalidFilter {
							t.Fatalf("GET %s filter %q: 400 that is not invalidFilter: %s", path, text, w.Body)
						}
					default:
						t.Fatalf("GET %s filter %q: %d %s", path, text, w.Code, w.Body.String())
					}
				}
			}
		}
	})
}

func fuzzTenant(f *testing.F, svc *provision.Service, name string) string {
	ctx := context.Background()
	a := provision.Actor{Name: "test"}
	ten, err := svc.CreateTenant(ctx, a, name)
	if err != nil {
		f.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID})
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// seedDirectory creates a few users and a group with varied attributes
// through the API.
func seedDirectory(f *testing.F, h http.Handler, token string) {
	send := func(method, path, body string) {
		r := httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/scim+json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 300 {
			f.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body.String())
		}
	}
	send("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com",
		"name":{"givenName":"Barbara","familyName":"Jensen","middleName":"Zoë"},"title":"Tour Guide","userType":"Employee",
		"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
		"phoneNumbers":[{"value":"+1 555 0100","type":"mobile","primary":true}],
		"addresses":[{"type":"work","locality":"Hollywood","postalCode":"91608"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`)
	send("POST", "/Users", `{"userName":"İstanbul.ÅSA","active":false,"nickName":"straße","ims":[{"value":"x@foo.com","type":"xmpp"}],
		"x509Certificates":[{"value":"TUlJQw=="}]}`)
	send("POST", "/Users", `{"userName":"plain"}`)
	send("POST", "/Groups", `{"displayName":"Sales"}`)
}
