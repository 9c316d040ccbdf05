package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files and returns their paths and the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "scimd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestServeTLS serves with a certificate and key: a TLS 1.2 or 1.3 client
// that trusts the certificate is answered, the printed SCIM URL is https,
// a client limited to TLS 1.1 fails the handshake, and plain HTTP to the
// port is not served.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "tls.db")
	env := map[string]string{
		"SCIMD_DATABASE_URL": db, "SCIMD_ADDR": "127.0.0.1:0",
		"SCIMD_TLS_CERT": certFile, "SCIMD_TLS_KEY": keyFile,
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	listening := regexp.MustCompile(`addr=https://(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "SCIM base URL:  https://"+addr+"/scim/v2") {
		t.Errorf("the printed SCIM base URL is not https:\n%s", stderr.String())
	}
	m := bootstrapToken.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap token:\n%s", stderr.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := func(minV, maxV uint16) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: minV, MaxVersion: maxV},
		}}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/scim/v2/Users?count=1", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := client(v, v).Do(req)
		if err != nil {
			t.Fatalf("%s client: %v", tls.VersionName(v), err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version != v {
			t.Errorf("%s client: status %d, TLS %v", tls.VersionName(v), res.StatusCode, res.TLS)
		}
	}
	if res, err := client(tls.VersionTLS10, tls.VersionTLS11).Get("https://" + addr + "/healthz"); err == nil {
		_ = res.Body.Close()
		t.Errorf("a TLS 1.1 client was answered %d", res.StatusCode)
	} else if !strings.Contains(err.Error(), "protocol version") && !strings.Contains(err.Error(), "handshake") {
		t.Errorf("a TLS 1.1 client failed otherwise than in the handshake: %v", err)
	}
	// Plain HTTP gets no service: Go's TLS server answers a request that is
	// not a TLS handshake with a bare 400 and closes.
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "ok") {
			t.Errorf("plain HTTP was answered %d: %s", res.StatusCode, body)
		}
	}
}

// TestServeTLSSettings: one of the pair without the other, or files that
// are no certificate and key, stop serve before it listens.
func TestServeTLSSettings(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a pem file"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "tls.db")
	for name, c := range map[string]struct{ cert, key, want string }{
		"cert only":     {certFile, "", "set both"},
		"key only":      {"", keyFile, "set both"},
		"junk key":      {certFile, junk, "SCIMD_TLS_KEY"},
		"missing files": {certFile + ".gone", keyFile, "SCIMD_TLS_CERT"},
	} {
		env := map[string]string{"SCIMD_DATABASE_URL": db, "SCIMD_ADDR": "127.0.0.1:0", "SCIMD_TLS_CERT": c.cert, "SCIMD_TLS_KEY": c.key}
		err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
	for _, v := range []string{"SCIMD_SHUTDOWN_TIMEOUT=0s", "SCIMD_SHUTDOWN_TIMEOUT=soon", "SCIMD_SHUTDOWN_DELAY=2h",
		"SCIMD_DB_STATEMENT_TIMEOUT=10ms", "SCIMD_DB_CONNECT_TIMEOUT=x"} {
		k, val, _ := strings.Cut(v, "=")
		env := map[string]string{"SCIMD_DATABASE_URL": db, "SCIMD_ADDR": "127.0.0.1:0", k: val}
		err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: %v, want an error naming %s", v, err, k)
		}
	}
}
