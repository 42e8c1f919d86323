// Package web is segstream's dashboard: a few static HTML shells and one
// vanilla JavaScript module that read the /v1 JSON API from the same
// origin, served under /ui/ on the API's listener. Everything is embedded
// in the binary; nothing is loaded from elsewhere.
//
// Files: templates/page.html (every page's shell), static/app.js (the
// pages' rendering), static/app.css, static/favicon.svg and
// static/vendor/uplot (uPlot, the chart library, see its README.txt).
//
// The pages are shells: a header, a nav and <main id="main">, which
// app.js fills from the API. The API accepts the segstream_token cookie
// set by POST /ui/login as the bearer token (the JS sends the
// X-Segstream-UI header with it).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/page.html static
var files embed.FS

// CookieName is the cookie that carries the API token.
const CookieName = "segstream_token"

// CSP is the Content-Security-Policy of every page: no inline scripts or
// styles, nothing from elsewhere.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"

var pageTmpl = template.Must(template.ParseFS(files, "templates/page.html"))

// page is what the shell template gets.
type page struct {
	Title string
	Page  string // body's data-page: the JS renders by it
	Open  bool   // no token configured: no logout button
	// Charts loads uPlot.
	Charts bool
	// Login page: Error (a refused token) and Next (where to go after).
	Error string
	Next  string
	// Message pages (not found, method not allowed, refused).
	Heading, Message string
}

var pages = map[string]page{
	"/ui/":        {Title: "Segments", Page: "segments", Charts: true},
	"/ui/segment": {Title: "Segment", Page: "segment", Charts: true},
	"/ui/user":    {Title: "User", Page: "user"},
	"/ui/editor":  {Title: "Editor", Page: "editor"},
	"/ui/health":  {Title: "Health", Page: "health"},
}

type asset struct {
	data  []byte
	ctype string
	etag  string
}

var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
	".png":  "image/png",
	".json": "application/json",
	"":      "text/plain; charset=utf-8", // LICENSE
}

// assets are the embedded static files by their path under static/.
var assets = func() map[string]asset {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	out := map[string]asset{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		out[p] = asset{data: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}()

type handler struct {
	login func(token string) bool
	open  bool
	cop   *http.CrossOriginProtection
}

// Handler serves the dashboard under /ui/ (pages and /ui/static/...).
// login checks a bearer token and returns whether it is valid; when the
// API has no token configured, open is true and no login is shown.
func Handler(login func(token string) bool, open bool) http.Handler {
	return &handler{login: login, open: open, cop: http.NewCrossOriginProtection()}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	p := r.URL.Path
	switch {
	case p == "/ui":
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	case strings.HasPrefix(p, "/ui/static/"):
		if !h.methods(w, r, "GET", "HEAD") {
			return
		}
		a, ok := assets[strings.TrimPrefix(p, "/ui/static/")]
		if !ok {
			h.notFound(w, r)
			return
		}
		hd.Set("Content-Type", a.ctype)
		hd.Set("Cache-Control", "no-cache")
		hd.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	case p == "/ui/login":
		switch r.Method {
		case "GET", "HEAD":
			if h.open {
				h.render(w, r, http.StatusOK, page{Title: "Sign in", Page: "message", Heading: "No sign-in needed",
					Message: "The API has no token configured: every page is open."})
				return
			}
			h.render(w, r, http.StatusOK, page{Title: "Sign in", Page: "login", Next: safeNext(r.URL.Query().Get("next"))})
		case "POST":
			h.postLogin(w, r)
		default:
			h.methods(w, r, "GET", "HEAD", "POST")
		}
	case p == "/ui/logout":
		if !h.methods(w, r, "POST") || !h.sameOrigin(w, r) {
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	default:
		pg, ok := pages[p]
		if !ok {
			h.notFound(w, r)
			return
		}
		if !h.methods(w, r, "GET", "HEAD") {
			return
		}
		h.render(w, r, http.StatusOK, pg)
	}
}

func (h *handler) postLogin(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, page{Title: "Sign in", Page: "login", Error: "The form could not be read."})
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if h.open {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	tok := r.PostForm.Get("token")
	switch {
	case tok == "":
		h.render(w, r, http.StatusUnauthorized, page{Title: "Sign in", Page: "login", Next: next, Error: "Enter a token."})
		return
	case !cookieSafe(tok) || h.login == nil || !h.login(tok):
		h.render(w, r, http.StatusUnauthorized, page{Title: "Sign in", Page: "login", Next: next, Error: "That token is not valid."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// sameOrigin refuses a cross-site form post (login CSRF, forced logout);
// requests without Sec-Fetch-Site or Origin (not from a browser) pass.
func (h *handler) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := h.cop.Check(r); err != nil {
		h.render(w, r, http.StatusForbidden, page{Title: "Refused", Page: "message", Heading: "Refused",
			Message: "A form from another site may not sign in or out here.", Error: "1"})
		return false
	}
	return true
}

// methods answers 405 when r's method is not one of ms.
func (h *handler) methods(w http.ResponseWriter, r *http.Request, ms ...string) bool {
	for _, m := range ms {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(ms, ", "))
	h.render(w, r, http.StatusMethodNotAllowed, page{Title: "Method not allowed", Page: "message", Heading: "Method not allowed",
		Message: r.Method + " is not allowed here.", Error: "1"})
	return false
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, page{Title: "Not found", Page: "message", Heading: "Not found",
		Message: "There is no page at this address.", Error: "1"})
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, code int, pg page) {
	pg.Open = h.open
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, pg); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	if r.Method != "HEAD" {
		_, _ = w.Write(b.Bytes())
	}
}

// safeNext is where to go after signing in: next when it is a path under
// /ui/ on this site, else /ui/ (no open redirect).
func safeNext(next string) string {
	const home = "/ui/"
	if !strings.HasPrefix(next, home) || strings.ContainsAny(next, "\\") {
		return home
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if c := path.Clean(u.Path); c != "/ui" && !strings.HasPrefix(c, home) {
		return home
	}
	return next
}

// cookieSafe tells whether a token can be a cookie value as is.
func cookieSafe(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}
