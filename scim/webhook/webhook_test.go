package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("whsec-test")
	body := []byte(`{"id":"e1","type":"user.deactivated"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("Sign = %q", h)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", secret, h, body, now, nil},
		{"good within tolerance", secret, h, body, now.Add(4 * time.Minute), nil},
		{"clock behind within tolerance", secret, h, body, now.Add(-4 * time.Minute), nil},
		{"rotation: second v1 matches", secret, "t=1800000000,v1=" + strings.Repeat("ab", 32) + "," + h[len("t=1800000000,"):], body, now, nil},
		{"tampered body", secret, h, []byte(`{"id":"e1","type":"user.deleted"}`), now, ErrMismatch},
		{"wrong secret", []byte("other"), h, body, now, ErrMismatch},
		{"replayed late", secret, h, body, now.Add(6 * time.Minute), ErrExpired},
		{"timestamp changed", secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now, ErrMismatch},
		{"empty", secret, "", body, now, ErrMalformed},
		{"no v1", secret, "t=1800000000", body, now, ErrMalformed},
		{"bad hex", secret, "t=1800000000,v1=zz", body, now, ErrMalformed},
		{"short mac", secret, "t=1800000000,v1=abcd", body, now, ErrMalformed},
		{"bad time", secret, "t=soon," + h[len("t=1800000000,"):], body, now, ErrMalformed},
		{"no equals", secret, "garbage", body, now, ErrMalformed},
	}
	for _, c := range cases {
		if err := Verify(c.secret, c.header, c.body, 0, c.now); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}
