package scim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestRenderFastPathMatches checks that the list/GET fast path renders
// exactly what the general renderer renders.
func TestRenderFastPathMatches(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tc := range []struct {
		name   string
		u      store.User
		groups []store.GroupRef
	}{
		{"empty document", store.User{ID: "u1", Doc: []byte(`{}`), Version: 1}, nil},
		{"no document", store.User{ID: "u1", Doc: []byte(` { } `), Version: 3, Active: true, Role: "admin"}, nil},
		{"full", store.User{ID: "u2", Active: true, Role: "member", Version: 7,
			Doc: []byte(`{"userName":"b@x.test","name":{"givenName":"B"},"emails":[{"value":"b@x.test","primary":true}],` +
				`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}`)},
			[]store.GroupRef{{ID: "g1", DisplayName: "Ops"}, {ID: "g2", DisplayName: "Dev"}}},
		{"old row with active in the document", store.User{ID: "u3", Active: false, Doc: []byte(`{"userName":"c","active":true}`)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.u.Created, tc.u.Modified = at, at.Add(time.Hour)
			slow, err := renderUser(&tc.u, tc.groups, "https://h/scim/v2")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := renderUserJSON(&tc.u, tc.groups, "https://h/scim/v2")
			if err != nil {
				t.Fatal(err)
			}
			var fast map[string]any
			if err := json.Unmarshal(raw, &fast); err != nil {
				t.Fatalf("fast path is not JSON: %s: %v", raw, err)
			}
			want, _ := json.Marshal(slow)
			var slowRound map[string]any
			_ = json.Unmarshal(want, &slowRound)
			if !reflect.DeepEqual(fast, slowRound) {
				t.Fatalf("fast %s\nslow %s", raw, want)
			}
		})
	}
	if _, err := renderUserJSON(&store.User{ID: "x", Doc: []byte(`[]`)}, nil, ""); err == nil {
		t.Fatal("a document that is not an object was rendered")
	}
}
