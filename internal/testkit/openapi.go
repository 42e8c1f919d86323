package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// OpenAPI checks requests and responses against an OpenAPI 3 document.
// It is safe for concurrent use.
type OpenAPI struct {
	mu     sync.Mutex // the document's schemas are not documented as safe to share
	doc    *openapi3.T
	router routers.Router
	// noRoute and wrongMethod are the operations a request no path of the
	// document matches (404) or a path matches with another method (405)
	// are checked against: components.responses NoSuchRoute and
	// MethodNotAllowed, when the document has them.
	noRoute, wrongMethod *openapi3.Operation
}

// methods are the methods tried to tell a wrong method from a wrong path.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// NewOpenAPI loads the document (no external references) and validates it.
func NewOpenAPI(spec []byte) (*OpenAPI, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: loading the document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi: the document is not valid: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: routing the document: %w", err)
	}
	o := &OpenAPI{doc: doc, router: router}
	if doc.Components != nil {
		o.noRoute = operationOf(doc.Components.Responses["NoSuchRoute"], http.StatusNotFound)
		o.wrongMethod = operationOf(doc.Components.Responses["MethodNotAllowed"], http.StatusMethodNotAllowed)
	}
	return o, nil
}

// operationOf is an operation with the one response r for status (nil
// without r).
func operationOf(r *openapi3.ResponseRef, status int) *openapi3.Operation {
	if r == nil || r.Value == nil {
		return nil
	}
	return &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(status, r))}
}

// Check validates one exchange: the route must exist in the document, the
// status code must be documented for it, and the body must match the
// schema (strictly: the document's additionalProperties, required and
// nullable are enforced, and the Content-Type must be documented). A
// request no documented path matches may only be answered 404, and one
// whose path is documented with other methods only 405; those answers are
// checked against components.responses NoSuchRoute and MethodNotAllowed
// (when the document has none, they fail). The request itself is only
// routed, not validated (tests send bad requests on purpose), and only
// its escaped path and method are read: the scheme and host are ignored.
// The error names the method, path and status and says what is wrong.
func (o *OpenAPI) Check(req *http.Request, status int, header http.Header, body []byte) error {
	path := req.URL.EscapedPath()
	fail := func(format string, a ...any) error {
		return fmt.Errorf("openapi: %s %s → %d: %s", req.Method, path, status, fmt.Sprintf(format, a...))
	}
	// route on the path alone: the document's server is "/", so a request
	// to http://host:port/v1/... must not be matched with its host. The
	// path stays escaped, so an id holding %2F is one segment.
	rr := req.Clone(context.Background())
	rr.URL = &url.URL{Path: path, RawQuery: req.URL.RawQuery}
	rr.Host = ""
	rr.Body = http.NoBody

	o.mu.Lock()
	defer o.mu.Unlock()
	route, params, err := o.router.FindRoute(rr)
	if err != nil {
		var allowed []string
		for _, m := range methods {
			if m == rr.Method {
				continue
			}
			other := rr.Clone(context.Background())
			other.Method = m
			if r, _, err := o.router.FindRoute(other); err == nil && r.Operation != nil {
				allowed = append(allowed, m)
			}
		}
		var op *openapi3.Operation
		switch {
		case len(allowed) > 0 && status == http.StatusMethodNotAllowed:
			op = o.wrongMethod
		case len(allowed) > 0:
			return fail("the document has no %s operation on this path (it has %s)", req.Method, strings.Join(allowed, ", "))
		case status == http.StatusNotFound:
			op = o.noRoute
		default:
			return fail("no path of the document matches (%v)", err)
		}
		if op == nil {
			return fail("the document does not describe this answer (components.responses NoSuchRoute / MethodNotAllowed)")
		}
		route = &routers.Route{Spec: o.doc, Path: path, Method: req.Method, Operation: op}
		params = map[string]string{}
	}
	if header == nil {
		header = http.Header{}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    rr,
			PathParams: params,
			Route:      route,
			Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			// the message names the path in the body; the body follows
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fail("%v (operation %s %s); body: %s", err, route.Method, route.Path, clip(body))
	}
	return nil
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	const max = 2000
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
