package web

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

const goodToken = "s3cret-token"

func fakeLogin(tok string) bool { return tok == goodToken }

// result is what a handler answered (the recorder's, body read).
type result struct {
	StatusCode int
	Header     http.Header
	cookies    []*http.Cookie
}

func (r result) Cookies() []*http.Cookie { return r.cookies }

func do(t *testing.T, h http.Handler, r *http.Request) (result, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close() // a recorder's body: nothing to lose
	return result{StatusCode: res.StatusCode, Header: res.Header, cookies: res.Cookies()}, string(b)
}

func postForm(path string, v url.Values) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestPages(t *testing.T) {
	for _, open := range []bool{false, true} {
		h := Handler(fakeLogin, open)
		for _, p := range []string{"/ui/", "/ui/segment?name=a", "/ui/user?id=u1", "/ui/editor", "/ui/health", "/ui/login"} {
			res, body := do(t, h, httptest.NewRequest("GET", p, nil))
			if res.StatusCode != 200 {
				t.Fatalf("%s: status %d", p, res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: content type %q", p, ct)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != CSP {
				t.Errorf("%s: CSP %q", p, got)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: missing nosniff or frame options: %v", p, res.Header)
			}
			for _, want := range []string{`<main id="main"`, `href="/ui/static/favicon.svg"`, `src="/ui/static/app.js"`,
				`action="/ui/user"`, `name="id"`, `href="#main"`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: body lacks %q", p, want)
				}
			}
			if strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script>") {
				t.Errorf("%s: inline style or script", p)
			}
			if hasLogout := strings.Contains(body, `action="/ui/logout"`); hasLogout == open {
				t.Errorf("%s (open %v): logout button shown %v", p, open, hasLogout)
			}
		}
	}
	res, body := do(t, Handler(fakeLogin, false), httptest.NewRequest("GET", "/ui/", nil))
	if !strings.Contains(body, "uPlot.iife.min.js") || !strings.Contains(body, `data-page="segments"`) || res.StatusCode != 200 {
		t.Errorf("segments page does not load uPlot")
	}
}

func TestStatic(t *testing.T) {
	h := Handler(fakeLogin, false)
	for p, want := range map[string]string{
		"/ui/static/app.js":                         "text/javascript",
		"/ui/static/app.css":                        "text/css",
		"/ui/static/favicon.svg":                    "image/svg+xml",
		"/ui/static/vendor/uplot/uPlot.iife.min.js": "text/javascript",
		"/ui/static/vendor/uplot/uPlot.min.css":     "text/css",
		"/ui/static/vendor/uplot/LICENSE":           "text/plain",
		"/ui/static/vendor/uplot/README.txt":        "text/plain",
	} {
		res, body := do(t, h, httptest.NewRequest("GET", p, nil))
		if res.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: status %d, %d bytes", p, res.StatusCode, len(body))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
			t.Errorf("%s: content type %q, want %s", p, ct, want)
		}
		if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, res.Header)
		}
		// revalidation by ETag
		r := httptest.NewRequest("GET", p, nil)
		r.Header.Set("If-None-Match", res.Header.Get("ETag"))
		if res2, _ := do(t, h, r); res2.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match gave %d", p, res2.StatusCode)
		}
	}
	for _, p := range []string{"/ui/static/", "/ui/static/vendor", "/ui/static/nope.js", "/ui/static/../web.go"} {
		if res, _ := do(t, h, httptest.NewRequest("GET", p, nil)); res.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestVendoredUPlot(t *testing.T) {
	for _, f := range []string{"static/vendor/uplot/uPlot.iife.min.js", "static/vendor/uplot/uPlot.min.css",
		"static/vendor/uplot/LICENSE", "static/vendor/uplot/README.txt"} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v, %d bytes", f, err, len(b))
		}
	}
	b, _ := os.ReadFile("static/vendor/uplot/uPlot.iife.min.js")
	if !strings.Contains(string(b[:200]), "uPlot") || len(assets["vendor/uplot/uPlot.iife.min.js"].data) != len(b) {
		t.Errorf("uPlot is not embedded as vendored")
	}
}

// TestOwnAssetsLight keeps our own JS and CSS small.
func TestOwnAssetsLight(t *testing.T) {
	n := len(assets["app.js"].data) + len(assets["app.css"].data)
	if n > 32<<10 {
		t.Errorf("app.js + app.css are %d bytes, keep them under 32 KiB", n)
	}
}

func TestLogin(t *testing.T) {
	h := Handler(fakeLogin, false)

	res, body := do(t, h, postForm("/ui/login", url.Values{"token": {"wrong"}, "next": {"/ui/health"}}))
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Fatalf("bad token: status %d, cookies %v", res.StatusCode, res.Cookies())
	}
	for _, want := range []string{`id="login"`, `id="token"`, `role="alert"`, `value="/ui/health"`, `<main id="main"`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if res.Header.Get("Content-Security-Policy") != CSP {
		t.Errorf("login page without CSP")
	}
	if res, _ := do(t, h, postForm("/ui/login", url.Values{})); res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Errorf("empty token: %d %v", res.StatusCode, res.Cookies())
	}

	for next, want := range map[string]string{
		"/ui/health":             "/ui/health",
		"/ui/user?id=a%2Fb":      "/ui/user?id=a%2Fb",
		"":                       "/ui/",
		"//evil.com":             "/ui/",
		"https://evil.com":       "/ui/",
		"https://evil.com/ui/":   "/ui/",
		"/evil":                  "/ui/",
		"/ui/../evil":            "/ui/",
		`/ui/\evil.com`:          "/ui/",
		"/ui/\r\nSet-Cookie: x=": "/ui/",
		"javascript:alert(1)":    "/ui/",
	} {
		res, _ := do(t, h, postForm("/ui/login", url.Values{"token": {goodToken}, "next": {next}}))
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("next %q: status %d", next, res.StatusCode)
		}
		if loc := res.Header.Get("Location"); loc != want {
			t.Errorf("next %q: Location %q, want %q", next, loc, want)
		}
		cs := res.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		c := cs[0]
		if c.Name != CookieName || c.Value != goodToken || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie %+v", c)
		}
	}

	// Secure over TLS only
	r := postForm("/ui/login", url.Values{"token": {goodToken}})
	r.TLS = &tls.ConnectionState{}
	if res, _ := do(t, h, r); len(res.Cookies()) != 1 || !res.Cookies()[0].Secure {
		t.Errorf("TLS login: cookies %v", res.Cookies())
	}

	// a cross-site form post is refused
	r = postForm("/ui/login", url.Values{"token": {goodToken}})
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := do(t, h, r); res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Errorf("cross-site login: %d %v", res.StatusCode, res.Cookies())
	}
	r = postForm("/ui/login", url.Values{"token": {goodToken}})
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if res, _ := do(t, h, r); res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Errorf("same-origin login: %d %v", res.StatusCode, res.Cookies())
	}

	// a token that cannot be a cookie value is refused, not mangled
	if res, _ := do(t, Handler(func(string) bool { return true }, false), postForm("/ui/login", url.Values{"token": {"a;b"}})); res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Errorf("token with ';': %d %v", res.StatusCode, res.Cookies())
	}

	// open: no cookie, straight on
	res, _ = do(t, Handler(fakeLogin, true), postForm("/ui/login", url.Values{"token": {"x"}, "next": {"/ui/editor"}}))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/editor" || len(res.Cookies()) != 0 {
		t.Errorf("open login: %d %q %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
}

func TestLogout(t *testing.T) {
	h := Handler(fakeLogin, false)
	r := httptest.NewRequest("POST", "/ui/logout", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: goodToken})
	res, _ := do(t, h, r)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	cs := res.Cookies()
	if len(cs) != 1 || cs[0].Name != CookieName || cs[0].Value != "" || cs[0].MaxAge >= 0 || cs[0].Path != "/" {
		t.Errorf("logout cookie %+v", cs)
	}
	if res, _ := do(t, h, httptest.NewRequest("GET", "/ui/logout", nil)); res.StatusCode != http.StatusMethodNotAllowed || len(res.Cookies()) != 0 {
		t.Errorf("GET logout: %d", res.StatusCode)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler(fakeLogin, false)
	for _, p := range []string{"/ui/nope", "/ui/segments", "/ui/user/", "/ui/static/nope.css"} {
		res, body := do(t, h, httptest.NewRequest("GET", p, nil))
		if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<main id="main"`) {
			t.Errorf("%s: %d %q", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: no CSP", p)
		}
	}
	res, _ := do(t, h, httptest.NewRequest("POST", "/ui/editor", nil))
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST page: %d %q", res.StatusCode, res.Header.Get("Allow"))
	}
	res, _ = do(t, h, httptest.NewRequest("GET", "/ui", nil))
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := do(t, h, httptest.NewRequest("HEAD", "/ui/health", nil))
	if res.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", res.StatusCode, body)
	}
}

// TestDOMContract checks that app.js names the ids the browser tests use.
func TestDOMContract(t *testing.T) {
	js := string(assets["app.js"].data)
	for _, id := range []string{"'segments'", "'chart'", "'flow'", "'members'", "'more-members'", "'size'", "'user-segments'",
		"'reasons'", "'scores'", "'profile'", "'timeline'", "'definition'", "'check'", "'publish'", "'preview-result'",
		"'definition-error'", "'publish-result'", "'lag'", "'latency'", "'backlog'", "'interests-backlog'", "'dlq'",
		"'login'", "'token'", "'X-Segstream-UI'", "body.dataset.ready = '1'"} {
		if !strings.Contains(js, id) {
			t.Errorf("app.js lacks %s", id)
		}
	}
}
