// Package api is segstream's HTTP read API (under /v1): a user's label
// document and profile summary, its label history and its segments at any
// past time, the segment definitions with their sizes, a segment's members
// paged with a stable cursor, a segment's size over time, and, for admin
// tokens, previews and changes of definitions (published to the
// definitions topic). The contract is openapi.json (embedded, served at
// /v1/openapi.json); the tests validate every response against it.
//
// Files: config.go (Config), api.go (Server, routing, auth, errors,
// metrics), users.go (users and history), segments.go (definitions,
// members, sizes, changes), preview.go (Preview, shared with `segstream
// segments preview`), params.go (query parameters, the members cursor).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/segments"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Deps are the parts of the service the API reads and writes through.
type Deps struct {
	Labels *labelstage.Stage
	Live   *segments.Live
	// Options compile definitions for previews and changes as the service
	// does.
	Options segments.Options
	// Model scores profiles for previews (the service's model).
	Model *classifier.Model
	// Publish writes definitions (and tombstones for deletes) to the
	// definitions topic; nil when segments.topic is off.
	Publish func(ctx context.Context, defs []segments.Definition, deletes []string) error
	Log     *zap.Logger
	// Metrics are the service's own, for GET /v1/health (nil: none).
	Metrics prometheus.Gatherer
}

// Server serves the API.
type Server struct {
	cfg    Config
	d      Deps
	log    *zap.Logger
	read   [][32]byte // sha256 of each token: compared in constant time
	admin  [][32]byte
	reqs   *prometheus.CounterVec
	took   *prometheus.HistogramVec
	routes []route
	users  *userReads
}

type scope int

const (
	scopeNone  scope = -1 // no token needed (the OpenAPI document)
	scopeRead  scope = 0
	scopeAdmin scope = 1
)

type route struct {
	method  string
	pattern []string // path segments; "{id}", "{name}" match one segment
	name    string   // for metrics: the pattern
	scope   scope
	h       func(w http.ResponseWriter, r *http.Request, args []string)
	ok      prometheus.Counter  // requests_total{route, code="200"}
	took    prometheus.Observer // request_seconds{route}
}

// New builds the server; reg (may be nil) gets segstream_api_* metrics.
func New(cfg Config, d Deps, reg prometheus.Registerer) *Server {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	s := &Server{cfg: cfg, d: d, log: d.Log}
	if d.Labels != nil {
		s.users = newUserReads(d.Labels.Users)
	}
	for _, t := range cfg.ReadTokens {
		s.read = append(s.read, sha256.Sum256([]byte(t)))
	}
	for _, t := range cfg.AdminTokens {
		s.admin = append(s.admin, sha256.Sum256([]byte(t)))
	}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_api_requests_total",
		Help: "Read API requests by route and status code."}, []string{"route", "code"})
	s.took = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "segstream_api_request_seconds",
		Help: "Read API request duration by route.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}, []string{"route"})
	if reg != nil {
		reg.MustRegister(s.reqs, s.took)
	}
	add := func(method, path string, sc scope, h func(http.ResponseWriter, *http.Request, []string)) {
		name := method + " " + path
		s.routes = append(s.routes, route{method: method, pattern: strings.Split(strings.Trim(path, "/"), "/"), name: name, scope: sc, h: h,
			ok: s.reqs.WithLabelValues(name, "200"), took: s.took.WithLabelValues(name)})
	}
	add("GET", "/v1/openapi.json", scopeNone, s.openapi)
	add("GET", "/v1/users/{id}", scopeRead, s.getUser)
	add("GET", "/v1/users/{id}/history", scopeRead, s.getHistory)
	add("GET", "/v1/segments", scopeRead, s.listSegments)
	add("POST", "/v1/segments/preview", scopeAdmin, s.preview)
	add("GET", "/v1/segments/{name}", scopeRead, s.getSegment)
	add("PUT", "/v1/segments/{name}", scopeAdmin, s.putSegment)
	add("DELETE", "/v1/segments/{name}", scopeAdmin, s.deleteSegment)
	add("GET", "/v1/segments/{name}/members", scopeRead, s.members)
	add("GET", "/v1/segments/{name}/sizes", scopeRead, s.sizes)
	add("GET", "/v1/segments/{name}/flow", scopeRead, s.flow)
	add("GET", "/v1/health", scopeRead, s.health)
	return s
}

// Close stops the server's background readers (after the HTTP server
// stopped calling it).
func (s *Server) Close() {
	if s.users != nil {
		s.users.close()
	}
}

// ServeHTTP routes a request: the path (escaped segments decoded one by
// one, so ids may hold '/'), the method, the token's scope, then the
// handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	rt := s.dispatch(rw, r)
	switch {
	case rt == nil:
		s.reqs.WithLabelValues("other", strconv.Itoa(rw.code)).Inc()
	case rw.code == http.StatusOK:
		rt.ok.Inc()
	default:
		s.reqs.WithLabelValues(rt.name, strconv.Itoa(rw.code)).Inc()
	}
	if rt != nil {
		rt.took.Observe(time.Since(t0).Seconds())
	}
}

// dispatch finds the route and serves the request; nil: no route.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) *route {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	var allowed []string
	for i := range s.routes {
		rt := &s.routes[i]
		args, ok := match(rt.pattern, parts)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		for j, a := range args {
			v, err := url.PathUnescape(a)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", paramOf(rt.pattern), "not a valid path segment: "+err.Error())
				return rt
			}
			args[j] = v
		}
		if rt.scope != scopeNone && !s.authorized(w, r, rt.scope) {
			return rt
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		rt.h(w, r, args)
		return rt
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", r.Method+" is not allowed here; allowed: "+strings.Join(allowed, ", "))
		return nil
	}
	writeError(w, http.StatusNotFound, "not_found", "", "no such route: "+r.URL.Path)
	return nil
}

// match compares a route pattern with the path's segments; it returns the
// segments in the pattern's "{...}" places.
func match(pattern, parts []string) ([]string, bool) {
	if len(pattern) != len(parts) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		switch {
		case p[0] == '{':
			if parts[i] == "" {
				return nil, false
			}
			args = append(args, parts[i])
		case p != parts[i]:
			return nil, false
		}
	}
	return args, true
}

// paramOf names a pattern's path parameter (each route has at most one).
func paramOf(pattern []string) string {
	for _, p := range pattern {
		if p[0] == '{' {
			return strings.Trim(p, "{}")
		}
	}
	return ""
}

// authorized checks the bearer token for the scope; it writes the 401 or
// 403 itself. With no token configured every request is allowed (the API
// then listens on loopback only).
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, sc scope) bool {
	if s.cfg.Open() {
		return true
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" {
		// the dashboard's pages: the token in its cookie, and (against
		// requests forged from other sites) a header only scripts of this
		// origin can set
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			if r.Header.Get("X-Segstream-UI") != "1" {
				writeError(w, http.StatusForbidden, "forbidden", "", "a request authenticated by the dashboard's cookie needs the header X-Segstream-UI: 1")
				return false
			}
			tok, ok = c.Value, true
		}
	}
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="segstream"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "", "a bearer token is required (Authorization: Bearer TOKEN)")
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	isAdmin := anyEqual(s.admin, sum)
	isRead := isAdmin || anyEqual(s.read, sum)
	switch {
	case !isRead:
		w.Header().Set("WWW-Authenticate", `Bearer realm="segstream", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "", "the bearer token is not valid")
		return false
	case sc == scopeAdmin && !isAdmin:
		writeError(w, http.StatusForbidden, "forbidden", "", "this route needs an admin token")
		return false
	}
	return true
}

// CookieName is the dashboard's cookie holding a token; the API accepts
// it in place of the Authorization header (with X-Segstream-UI: 1).
const CookieName = "segstream_token"

// ValidToken tells whether tok is one of the configured tokens (read or
// admin); with none configured every token is.
func (s *Server) ValidToken(tok string) bool {
	if s.cfg.Open() {
		return true
	}
	sum := sha256.Sum256([]byte(tok))
	return anyEqual(s.admin, sum) || anyEqual(s.read, sum)
}

func anyEqual(set [][32]byte, sum [32]byte) bool {
	found := 0
	for i := range set {
		found |= subtle.ConstantTimeCompare(set[i][:], sum[:])
	}
	return found == 1
}

// Error is the body of every error response.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Parameter names the query or path parameter (or "body") at fault.
	Parameter string `json:"parameter,omitempty"`
	// Details lists definition refusals, each with its field and position.
	Details []Detail `json:"details,omitempty"`
}

// Detail is one refusal of a definition.
type Detail struct {
	Segment string `json:"segment,omitempty"`
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, kind, param, msg string) {
	writeJSON(w, code, Error{Code: kind, Message: msg, Parameter: param})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"code":"internal","message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// internal answers 500 (or 503 when Redis or the context gave up) and
// logs the cause; the client sees no internals.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", what+": timed out")
		return
	}
	s.log.Error("api: "+what+" failed", zap.String("path", r.URL.Path), zap.Error(err))
	writeError(w, http.StatusInternalServerError, "internal", "", what+" failed; the service log has the cause")
}

// bodyError answers a body that could not be read: 413 when it was too
// large.
func (s *Server) bodyError(w http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body", "the body is larger than "+strconv.FormatInt(mb.Limit, 10)+" bytes (api.max_body_bytes)")
		return
	}
	writeError(w, http.StatusBadRequest, "bad_request", "body", "reading the body: "+err.Error())
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ []string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(OpenAPI)
}
