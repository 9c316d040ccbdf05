package scim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// Cursor paging (RFC 9865). A cursor is the keyset position of the last
// (nextCursor) or first (previousCursor) resource of a page, with the
// filter and sort of the walk bound into it, signed so that a client can
// neither forge nor alter one:
//
//	base64url(JSON payload) "." base64url(HMAC-SHA256(key, tenant id, payload)[:16])
//
// The key is a random secret stored in the database on first use
// (store.Store.Secret), so every replica accepts every replica's cursors;
// the tenant id in the MAC keeps a cursor to its tenant. A cursor expires
// CursorTimeout after it was issued.

// Cursor paging limits, advertised in /ServiceProviderConfig.
const (
	CursorTimeout = time.Hour
	// cursorSecret names the database secret cursors are signed with.
	cursorSecret = "cursor-hmac-v1"
	// cursorVersion is the payload format.
	cursorVersion = 1
)

// RFC 9865 §2.3 error types.
const (
	scimInvalidCursor = "invalidCursor"
	scimExpiredCursor = "expiredCursor"
)

// cursorState is a cursor's payload.
type cursorState struct {
	V      int                  `json:"v"`
	Type   string               `json:"r"`           // resource type name
	Filter string               `json:"f,omitempty"` // the filter as the first request gave it
	SortBy string               `json:"s,omitempty"` // canonical sortBy path
	Desc   bool                 `json:"d,omitempty"`
	Before bool                 `json:"b,omitempty"` // the page before Pos (previousCursor), else after it
	Pos    *store.TypedPosition `json:"p,omitempty"` // nil: the start of the order
	Issued int64                `json:"t"`           // unix seconds
}

// cursorKey returns the key cursors are signed with, reading (or creating)
// it in the database the first time.
func (s *server) cursorKey(ctx context.Context) ([]byte, error) {
	return s.cursors.Get(ctx, s.cfg.Store, cursorSecret)
}

func cursorMAC(key []byte, tenantID string, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// encodeCursor signs st for the request's tenant.
func (s *server) encodeCursor(r *http.Request, st cursorState) (string, error) {
	key, err := s.cursorKey(r.Context())
	if err != nil {
		return "", err
	}
	st.V, st.Issued = cursorVersion, s.cfg.Now().Unix()
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(cursorMAC(key, principal(r.Context()).TenantID, payload)), nil
}

// decodeCursor checks a cursor given to a list of rt and returns its
// payload. A cursor that was not issued by scimd for this tenant and
// resource type is 400 invalidCursor, one older than CursorTimeout 400
// expiredCursor.
func (s *server) decodeCursor(r *http.Request, rtName, text string) (cursorState, error) {
	invalid := errorf(http.StatusBadRequest, scimInvalidCursor,
		"the cursor is not one this server issued for %s: give an empty cursor for the first page, then nextCursor or previousCursor", rtName)
	var st cursorState
	b64, sig, ok := strings.Cut(text, ".")
	if !ok {
		return st, invalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(b64)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return st, invalid
	}
	key, err := s.cursorKey(r.Context())
	if err != nil {
		return st, err
	}
	if !hmac.Equal(mac, cursorMAC(key, principal(r.Context()).TenantID, payload)) {
		return st, invalid
	}
	if err := json.Unmarshal(payload, &st); err != nil || st.V != cursorVersion || st.Type != rtName {
		return st, invalid
	}
	if age := s.cfg.Now().Sub(time.Unix(st.Issued, 0)); age > CursorTimeout {
		return st, errorf(http.StatusBadRequest, scimExpiredCursor,
			"the cursor expired: it was issued %s ago, and cursors last %d seconds; start again with an empty cursor",
			age.Round(time.Second), int(CursorTimeout/time.Second))
	}
	return st, nil
}
