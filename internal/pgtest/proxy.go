package pgtest

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Modes of a Proxy.
const (
	modeForward = iota
	modeBlackhole
	modeRefuse
)

// Proxy is a TCP proxy on 127.0.0.1 in front of the test PostgreSQL server,
// for tests that need the database to go away without touching the server
// other tests use: Refuse plays a server that is down (every connection is
// reset and new ones are refused), Blackhole one that is unreachable
// without a word (connections are accepted and held, and nothing more
// passes in either direction), and Resume brings it back. It is safe for
// concurrent use and is closed when the test ends.
type Proxy struct {
	t      testing.TB
	target string // host:port of the server
	addr   string // host:port the proxy listens on

	mu    sync.Mutex
	cond  *sync.Cond // broadcast on every change of mode
	mode  int
	ln    net.Listener
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to the server of the PostgreSQL URL u and returns
// it forwarding; URL gives the URL to connect through it. It fails the
// test when u has no host:port or the proxy cannot listen.
func NewProxy(t testing.TB, u string) *Proxy {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		t.Fatalf("pgtest: proxy: %q is not a postgres://host:port/… URL", redactRaw(u))
	}
	target := pu.Host
	if pu.Port() == "" {
		target = net.JoinHostPort(pu.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept(ln)
	t.Cleanup(p.close)
	return p
}

// URL returns u with its host and port replaced by the proxy's.
func (p *Proxy) URL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		p.t.Fatalf("pgtest: proxy: %q does not parse", redactRaw(u))
	}
	pu.Host = p.addr
	return pu.String()
}

// Refuse resets every connection through the proxy and refuses new ones
// (nothing listens on its port until Resume), as a stopped server does.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeRefuse
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
	p.cond.Broadcast()
}

// Blackhole makes the proxy accept connections and hold them, and stop
// passing bytes on the connections it has, in both directions, as a server
// behind a dead network path does: callers wait for answers that never
// come.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == modeRefuse {
		p.listenLocked()
	}
	p.mode = modeBlackhole
	p.cond.Broadcast()
}

// Resume forwards again: held bytes and connections go through, and new
// connections reach the server.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == modeRefuse {
		p.listenLocked()
	}
	p.mode = modeForward
	p.cond.Broadcast()
}

// listenLocked listens on the proxy's port again (after Refuse), retrying
// for a few seconds in case the port is still being released.
func (p *Proxy) listenLocked() {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.ln = ln
			p.wg.Add(1)
			go p.accept(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Errorf("pgtest: proxy: listen again on %s: %v", p.addr, err)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Refuse or close
		}
		p.mu.Lock()
		if p.done || p.mode == modeRefuse {
			p.mu.Unlock()
			reset(c)
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// serve holds a client connection while the proxy blackholes, then
// connects it to the server and passes bytes both ways.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	if !p.waitForward() {
		p.drop(c)
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.done || p.mode == modeRefuse {
		p.mu.Unlock()
		reset(s)
		p.drop(c)
		return
	}
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(s, c) }()
	go func() { defer wg.Done(); p.pump(c, s) }()
	wg.Wait()
	p.drop(c)
	p.drop(s)
}

// pump copies src to dst, holding what it read while the proxy blackholes;
// it closes both when either side ends or the proxy refuses.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitForward() {
				break
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
}

// waitForward waits while the proxy blackholes; it reports whether bytes
// may pass (false once it refuses or is closed).
func (p *Proxy) waitForward() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == modeBlackhole && !p.done {
		p.cond.Wait()
	}
	return p.mode == modeForward && !p.done
}

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.done = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// reset closes c with a TCP reset rather than an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// redactRaw hides the password of a URL for a message.
func redactRaw(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return redact(pu)
}
