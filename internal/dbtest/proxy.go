package dbtest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/umeme-wallet/umeme/internal/database"
)

// Proxy is a TCP proxy in front of a database server, for tests of what a
// store does when a connection's packets are lost or late: a COMMIT that
// never reaches the server, an answer that never comes back, a statement
// the server starts long after the client sent it. A fault is armed on the
// connections open when it is armed, never on later ones (a store's new
// connection, opened to find out what happened, goes through untouched).
// A marker fault fires on a connection when a chunk the client sends
// contains the marker (a statement's text, as the driver writes it).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []*proxied
	// hangUpOn hangs up on a new connection whose first chunk carries one
	// of these markers.
	hangUpOn [][]byte
}

// fault is what a proxied connection does to its traffic.
type fault struct {
	marker      []byte        // nil: from now on; else from the chunk that holds it
	loseReplies bool          // drop what the server sends
	loseFrom    bool          // drop what the client sends, the marked chunk included
	delay       time.Duration // hold each chunk the client sends this long
	forge       []byte        // replace the server's next chunk with this (once)
}

type proxied struct {
	// hangUpOn are the markers of HangUpOn when it was accepted.
	hangUpOn [][]byte
	first    bool // its first chunk was read

	mu     sync.Mutex
	armed  *fault // waiting for its marker
	active fault  // in force
	client net.Conn
	server net.Conn
}

// NewProxy listens on a loopback port and forwards every connection to
// target (host:port) until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// ProxyURL rewrites a database URL to reach its server through a new
// proxy, which it returns with the URL.
func ProxyURL(t testing.TB, dbURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// OpenProxied is OpenWith on a fresh database of the engine reached
// through a new Proxy: it returns the database, the proxy, and the URL
// that reaches the server straight.
func OpenProxied(t testing.TB, engine string, opts database.Options) (database.DB, *Proxy, string) {
	t.Helper()
	dbURL := URL(t, engine)
	p, proxied := ProxyURL(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Migrate = true
	db, err := database.Open(ctx, proxied, opts)
	if err != nil {
		t.Fatalf("open %s through a proxy: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p, dbURL
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxied{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		pc.hangUpOn = p.hangUpOn
		p.mu.Unlock()
		go pc.requests()
		go pc.replies()
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Drop()
}

// Drop closes every connection open now, both ends, as a network that
// fails does; new ones go through.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.client.Close()
		c.server.Close()
	}
	p.conns = nil
}

// arm puts f on every connection open now.
func (p *Proxy) arm(f fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.mu.Lock()
		if f.marker == nil {
			c.active = f
		} else {
			c.armed = &f
		}
		c.mu.Unlock()
	}
}

// LoseReplies drops, from now on, everything the server sends on the
// connections open now.
func (p *Proxy) LoseReplies() { p.arm(fault{loseReplies: true}) }

// LoseRequests drops, from now on, everything the client sends on the
// connections open now.
func (p *Proxy) LoseRequests() { p.arm(fault{loseFrom: true}) }

// LoseRepliesAfter lets through the chunk that carries marker, on a
// connection open now, and drops everything the server sends after it.
func (p *Proxy) LoseRepliesAfter(marker string) {
	p.arm(fault{marker: []byte(marker), loseReplies: true})
}

// LoseRequestsFrom drops the chunk that carries marker, on a connection
// open now, and everything its client sends after it.
func (p *Proxy) LoseRequestsFrom(marker string) {
	p.arm(fault{marker: []byte(marker), loseFrom: true})
}

// ForgeReplyAfter lets through the chunk that carries marker and replaces
// the server's next chunk (its answer) with reply: the server did what it
// was asked, the client reads reply instead.
func (p *Proxy) ForgeReplyAfter(marker string, reply []byte) {
	p.arm(fault{marker: []byte(marker), forge: reply})
}

// HangUpOn hangs up, from now on, on every new connection whose first
// chunk (a PostgreSQL startup or cancel message) carries marker.
func (p *Proxy) HangUpOn(marker string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hangUpOn = append(p.hangUpOn[:len(p.hangUpOn):len(p.hangUpOn)], []byte(marker))
}

// pgCancelRequest is the start of a PostgreSQL CancelRequest message: its
// length (16) and its code (80877102).
var pgCancelRequest = []byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e}

// LoseCancels drops every PostgreSQL cancel request from now on, and hangs
// up on it, as a server too busy to act on it in time does: PostgreSQL's
// cancel is a best effort, sent on a connection of its own.
func (p *Proxy) LoseCancels() { p.HangUpOn(string(pgCancelRequest)) }

// DelayRequests holds every chunk the client sends, on the connections
// open now, for d before passing it on.
func (p *Proxy) DelayRequests(d time.Duration) { p.arm(fault{delay: d}) }

// DelayRequestsFrom holds the chunk that carries marker, on a connection
// open now, and every chunk its client sends after it, for d each.
func (p *Proxy) DelayRequestsFrom(marker string, d time.Duration) {
	p.arm(fault{marker: []byte(marker), delay: d})
}

// requests copies the client's bytes to the server, under the faults. A
// delayed chunk goes at its arrival plus the delay, so a message the
// client wrote in two chunks arrives whole, late.
func (c *proxied) requests() {
	type timed struct {
		chunk []byte
		at    time.Time
	}
	queue := make(chan timed, 1024)
	go func() {
		defer c.server.Close()
		for r := range queue {
			time.Sleep(time.Until(r.at))
			if _, err := c.server.Write(r.chunk); err != nil {
				c.client.Close()
				for range queue {
				}
				return
			}
		}
		// The client hung up: so does the server's side, after anything
		// held back has gone.
	}()
	defer close(queue)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			if !c.first {
				c.first = true
				for _, m := range c.hangUpOn {
					if bytes.Contains(chunk, m) {
						c.client.Close()
						return
					}
				}
			}
			c.mu.Lock()
			if c.armed != nil && bytes.Contains(chunk, c.armed.marker) {
				c.active, c.armed = *c.armed, nil
			}
			f := c.active
			c.mu.Unlock()
			if !f.loseFrom {
				queue <- timed{chunk: chunk, at: time.Now().Add(f.delay)}
			}
		}
		if err != nil {
			return
		}
	}
}

// replies copies the server's bytes to the client, unless lost.
func (c *proxied) replies() {
	defer c.client.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			lose := c.active.loseReplies
			out := buf[:n]
			if c.active.forge != nil {
				out, c.active.forge = c.active.forge, nil
			}
			c.mu.Unlock()
			if !lose {
				if _, werr := c.client.Write(out); werr != nil {
					c.server.Close()
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				c.server.Close()
			}
			return
		}
	}
}
