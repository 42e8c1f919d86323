package api

import (
	"net/url"
	"testing"
	"time"
)

func TestListenAddrIsLoopbackWithoutTokens(t *testing.T) {
	c := Config{Listen: "0.0.0.0:8080"}
	c.SetDefaults()
	if got := c.ListenAddr(); got != "127.0.0.1:8080" {
		t.Fatalf("no token: %s", got)
	}
	c.ReadTokens = []string{"read-token-0123456789"}
	if got := c.ListenAddr(); got != "0.0.0.0:8080" {
		t.Fatalf("with a token: %s", got)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.AdminTokens = []string{"short"}
	if err := c.Validate(); err == nil || err.Error() != "api.admin_tokens[0]: shorter than 16 characters" {
		t.Fatalf("short token: %v", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, u := range []string{"u1", "with\nnewline", "名前", "a:b/c"} {
		s, m, err := decodeCursor(encodeCursor("1300000000", u))
		if err != nil || s != "1300000000" || m != u {
			t.Fatalf("%q: %q %q %v", u, s, m, err)
		}
	}
	for _, bad := range []string{"", "v1.", "v2.abc", "v1.!!", "v1." + "bm9zY29yZQ"} {
		if _, _, err := decodeCursor(bad); err == nil {
			t.Fatalf("cursor %q accepted", bad)
		}
	}
}

func TestQueryParameters(t *testing.T) {
	q := url.Values{"limit": {"5000"}, "at": {"1300000000"}, "from": {"2011-01-01T00:00:00Z"}, "step": {"7d"}, "bad": {"0s"}}
	if n, err := queryLimit(q, "limit", 100, 1000); err != nil || n != 1000 {
		t.Fatalf("clamp: %d %v", n, err)
	}
	if n, err := queryLimit(q, "none", 100, 1000); err != nil || n != 100 {
		t.Fatalf("default: %d %v", n, err)
	}
	if at, ok, err := queryTime(q, "at"); err != nil || !ok || at.Unix() != 1300000000 {
		t.Fatalf("unix: %v %v %v", at, ok, err)
	}
	if f, ok, err := queryTime(q, "from"); err != nil || !ok || !f.Equal(time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("rfc3339: %v %v %v", f, ok, err)
	}
	if d, ok, err := queryDuration(q, "step"); err != nil || !ok || d != 7*24*time.Hour {
		t.Fatalf("days: %v %v %v", d, ok, err)
	}
	if _, _, err := queryDuration(q, "bad"); err == nil || err.param != "bad" {
		t.Fatalf("zero duration accepted: %v", err)
	}
}
