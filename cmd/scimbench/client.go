package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client sends requests to one SCIM root (or a ceiling server) over a
// keep-alive connection pool sized for the concurrency.
type client struct {
	hc   *http.Client
	base string // no trailing slash
	auth string // "Bearer …" or ""
	// accept is the Accept header (application/scim+json when "");
	// cookie, when set, is sent as the Cookie header.
	accept, cookie string
}

func newClient(base, token string, conc int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: proxy variables never apply
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conc + 8,
		MaxIdleConnsPerHost: conc + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	c := &client{hc: &http.Client{Transport: tr, Timeout: timeout}, base: strings.TrimRight(base, "/")}
	if token != "" {
		c.auth = "Bearer " + token
	}
	return c
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request (path is relative to the base and already escaped)
// and reads the whole answer into buf. The body returned aliases buf.
func (c *client) do(ctx context.Context, buf *bytes.Buffer, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	} else {
		req.Header.Set("Accept", "application/scim+json")
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// statusError describes an unexpected answer.
func statusError(method, path string, status int, body []byte) error {
	if len(path) > 100 {
		path = path[:100] + "…"
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return fmt.Errorf("%s %s: status %d: %s", method, path, status, s)
}

// topValue returns the raw JSON value of a top-level member of a
// ListResponse without decoding the resources: the last occurrence of the
// key wins, which is the top-level one for servers that write Resources
// first (encoding/json sorts map keys, so "Resources" comes first) and
// also for documents whose resources never carry that key. ok is false
// when the key is absent.
func topValue(body []byte, key string) (json.RawMessage, bool) {
	k := []byte(`"` + key + `"`)
	i := bytes.LastIndex(body, k)
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(body[i+len(k):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(rest[1:]))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// topInt reads an integer member of a ListResponse (-1 when absent).
func topInt(body []byte, key string) int {
	v, ok := topValue(body, key)
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return -1
	}
	return n
}

// topString reads a string member of a ListResponse ("" when absent or
// null).
func topString(body []byte, key string) string {
	v, ok := topValue(body, key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// loopback reports whether a base URL names this machine, the only place
// the generator sends traffic.
func loopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("-base %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-base %q: use http://127.0.0.1:PORT/scim/v2", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-base %q: only loopback servers may be driven (127.0.0.1, ::1, localhost)", base)
}
