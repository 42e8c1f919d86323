package testkit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/internal/testkit"
)

func loadAPI(t *testing.T) *testkit.OpenAPI {
	t.Helper()
	o, err := testkit.NewOpenAPI(api.OpenAPI)
	if err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	return o
}

func get(t *testing.T, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

const fullLabel = `{"user_id":"u1","version":3,"as_of":"2026-01-02T03:04:05Z","segments":["at_risk","interest:books"],` +
	`"scores":{"churn_risk":0.8123,"value_tier_high":0.1,"interest:books":0.61},"model":{"name":"default","version":"v1"},` +
	`"reasons":[{"segment":"at_risk","input":"days_since_purchase","value":91,"contribution":0.42},{"input":"x","value":1,"contribution":0}]}`

const profile = `{"first_seen":"2025-01-01T00:00:00Z","last_seen":"2026-01-02T03:04:05Z","events":{"view":10,"purchase":2},` +
	`"purchase_days":2,"spend":12.5,"refunds":0,"last_purchase":null,"reviews":0,"mean_rating":null,"top_categories":[]}`

func TestOpenAPIUser(t *testing.T) {
	o := loadAPI(t)
	req := get(t, "GET", "http://127.0.0.1:8080/v1/users/u1")
	ok := map[string]string{
		"label null, no profile": `{"user_id":"u1","label":null,"version":0,"published":false,"profile":null}`,
		"full label":             `{"user_id":"u1","label":` + fullLabel + `,"version":3,"published":true,"profile":` + profile + `}`,
		"null scores and reasons": `{"user_id":"u1","label":` + strings.NewReplacer(`"scores":{"churn_risk":0.8123,"value_tier_high":0.1,"interest:books":0.61}`, `"scores":null`,
			`"reasons":[{"segment":"at_risk","input":"days_since_purchase","value":91,"contribution":0.42},{"input":"x","value":1,"contribution":0}]`, `"reasons":null`).Replace(fullLabel) +
			`,"version":3,"published":true,"profile":null}`,
	}
	for name, body := range ok {
		if err := o.Check(req, 200, jsonHeader, []byte(body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"missing published":   `{"user_id":"u1","label":null,"version":0,"profile":null}`,
		"unknown property":    `{"user_id":"u1","label":null,"version":0,"published":false,"profile":null,"extra":1}`,
		"label missing model": `{"user_id":"u1","label":` + strings.Replace(fullLabel, `"model":{"name":"default","version":"v1"},`, "", 1) + `,"version":3,"published":true,"profile":null}`,
		"null segments":       `{"user_id":"u1","label":` + strings.Replace(fullLabel, `["at_risk","interest:books"]`, "null", 1) + `,"version":3,"published":true,"profile":null}`,
		"bad time":            `{"user_id":"u1","label":` + strings.Replace(fullLabel, `2026-01-02T03:04:05Z`, "yesterday", 1) + `,"version":3,"published":true,"profile":null}`,
		"version a string":    `{"user_id":"u1","label":null,"version":"0","published":false,"profile":null}`,
	}
	for name, body := range bad {
		if err := o.Check(req, 200, jsonHeader, []byte(body)); err == nil {
			t.Errorf("%s: passed", name)
		} else if !strings.Contains(err.Error(), "GET /v1/users/u1 → 200") {
			t.Errorf("%s: the error does not name the exchange: %v", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if err := o.Check(req, 200, http.Header{"Content-Type": {"text/html"}}, []byte(ok["label null, no profile"])); err == nil {
		t.Error("an undocumented content type passed")
	}
}

func TestOpenAPIStatusAndErrors(t *testing.T) {
	o := loadAPI(t)
	req := get(t, "GET", "http://127.0.0.1:8080/v1/users/u1")
	errBody := []byte(`{"code":"not_found","message":"no user \"u1\"","parameter":"id"}`)
	if err := o.Check(req, 418, jsonHeader, errBody); err == nil {
		t.Error("an undocumented status passed")
	}
	if err := o.Check(req, 404, jsonHeader, errBody); err != nil {
		t.Errorf("404: %v", err)
	}
	if err := o.Check(req, 404, jsonHeader, []byte(`{"message":"x"}`)); err == nil {
		t.Error("an error without code passed")
	}
	if err := o.Check(req, 418, jsonHeader, []byte(`{"code":"forbidden","message":"x"}`)); err == nil {
		t.Error("an undocumented 418 passed")
	}
	unauth := http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {`Bearer realm="segstream"`}}
	if err := o.Check(req, 401, unauth, []byte(`{"code":"unauthorized","message":"x"}`)); err != nil {
		t.Errorf("401: %v", err)
	}
	if err := o.Check(req, 401, jsonHeader, []byte(`{"code":"unauthorized","message":"x"}`)); err == nil {
		t.Error("401 without WWW-Authenticate passed")
	}
	refusal := []byte(`{"code":"invalid_definition","message":"the definition is refused: x","parameter":"body",` +
		`"details":[{"segment":"a","field":"enter","line":2,"column":8,"message":"undeclared reference"},{"message":"empty definition"}]}`)
	if err := o.Check(get(t, "POST", "http://h/v1/segments/preview"), 400, jsonHeader, refusal); err != nil {
		t.Errorf("preview 400: %v", err)
	}
	// the wrong method and no route at all
	allow := http.Header{"Content-Type": {"application/json"}, "Allow": {"GET"}}
	if err := o.Check(get(t, "PATCH", "http://h/v1/users/u1"), 405, allow, []byte(`{"code":"method_not_allowed","message":"x"}`)); err != nil {
		t.Errorf("405: %v", err)
	}
	if err := o.Check(get(t, "PATCH", "http://h/v1/users/u1"), 200, jsonHeader, []byte(`{}`)); err == nil {
		t.Error("an undocumented operation passed")
	}
	if err := o.Check(get(t, "GET", "http://h/v2/nothing"), 404, jsonHeader, []byte(`{"code":"not_found","message":"no such route: /v2/nothing"}`)); err != nil {
		t.Errorf("no route 404: %v", err)
	}
	if err := o.Check(get(t, "GET", "http://h/v2/nothing"), 200, jsonHeader, []byte(`{}`)); err == nil {
		t.Error("an undocumented path passed")
	}
}

func TestOpenAPIRoutes(t *testing.T) {
	o := loadAPI(t)
	members := []byte(`{"segment":"at_risk","size":2,"members":[{"user_id":"a/b","since":"2026-01-02T03:04:05Z"},{"user_id":"u2","since":"2026-01-02T03:04:06Z"}],"next_cursor":"v1.abc"}`)
	cases := []struct {
		method, target string
		status         int
		body           string
	}{
		{"GET", "http://127.0.0.1:1/v1/segments/at_risk/members?limit=2", 200, string(members)},
		{"GET", "http://127.0.0.1:1/v1/segments/interest:fashion/members", 200, `{"segment":"interest:fashion","size":0,"members":[],"next_cursor":""}`},
		{"GET", "http://127.0.0.1:1/v1/users/a%2Fb", 200, `{"user_id":"a/b","label":null,"version":0,"published":false,"profile":null}`},
		{"GET", "http://127.0.0.1:1/v1/users/a%2Fb/history", 200, `{"user_id":"a/b","version":1,"entries":[{"version":1,"at":"2026-01-02T03:04:05Z","segments":["x"],` +
			`"changes":[{"segment":"x","change":"entered","definition_version":"abc","reasons":null},{"segment":"y","change":"exited","reasons":[]}]}],"complete":true}`},
		{"GET", "http://127.0.0.1:1/v1/users/u1/history?at=100", 200, `{"user_id":"u1","at":"1970-01-01T00:01:40Z","version":0,"since":null,"segments":[]}`},
		{"GET", "http://127.0.0.1:1/v1/segments", 200, `{"set_version":"s1","segments":[{"name":"interest:*","description":"","enter":"value > 0.5","exit":"","min_dwell":"168h0m0s",` +
			`"each":"interests","explain":"","version":"v1","source":"a.yaml:1","size":3,"keys":{"interest:books":3}}]}`},
		{"GET", "http://127.0.0.1:1/v1/segments/preview", 200, `{"name":"preview","description":"","enter":"true","exit":"","min_dwell":"","each":"","explain":"","version":"h","source":"s","size":0,"keys":{}}`},
		{"GET", "http://127.0.0.1:1/v1/segments/at_risk/sizes?step=1h", 200, `{"segment":"at_risk","from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","step_seconds":3600,` +
			`"points":[{"at":"2026-01-01T00:00:00Z","size":null},{"at":"2026-01-01T01:00:00Z","size":4}]}`},
		{"POST", "http://127.0.0.1:1/v1/segments/preview", 200, `{"at":"2026-01-01T00:00:00Z","profiles":10,"took_ms":1.5,"segments":[{"name":"at_risk","size":1,"share":0.1,"sample":["u1"]}]}`},
		{"PUT", "http://127.0.0.1:1/v1/segments/at_risk", 202, `{"name":"at_risk","version":"v2","live":false}`},
		{"DELETE", "http://127.0.0.1:1/v1/segments/at_risk", 200, `{"name":"at_risk","live":true}`},
		{"GET", "http://127.0.0.1:1/v1/openapi.json", 200, string(api.OpenAPI)},
	}
	for _, c := range cases {
		if err := o.Check(get(t, c.method, c.target), c.status, jsonHeader, []byte(c.body)); err != nil {
			t.Errorf("%v", err)
		}
	}
	// a size that is not a number, an unknown member field, a history
	// with both shapes' fields
	bad := []struct{ method, target, body string }{
		{"GET", "http://h/v1/segments/at_risk/sizes", `{"segment":"at_risk","from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","step_seconds":3600,"points":[{"at":"2026-01-01T00:00:00Z","size":"4"}]}`},
		{"GET", "http://h/v1/segments/at_risk/members", `{"segment":"at_risk","size":1,"members":[{"user_id":"u","since":"2026-01-02T03:04:05Z","score":1}],"next_cursor":""}`},
		{"GET", "http://h/v1/segments/at_risk/members", `{"segment":"at_risk","size":1,"members":null,"next_cursor":""}`},
		{"GET", "http://h/v1/users/u1/history", `{"user_id":"u1","version":0,"entries":[],"complete":true,"at":"2026-01-02T03:04:05Z"}`},
	}
	for _, c := range bad {
		if err := o.Check(get(t, c.method, c.target), 200, jsonHeader, []byte(c.body)); err == nil {
			t.Errorf("%s %s passed: %s", c.method, c.target, c.body)
		} else {
			t.Logf("%v", err)
		}
	}
}

func TestOpenAPIConcurrent(t *testing.T) {
	o := loadAPI(t)
	body := []byte(`{"user_id":"u1","label":` + fullLabel + `,"version":3,"published":true,"profile":` + profile + `}`)
	req := get(t, "GET", "http://127.0.0.1:1/v1/users/u1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := o.Check(req, 200, jsonHeader, body); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestOpenAPIServer checks the answers the server gives before it reads
// anything (no Redis): the document itself, authentication, routing and
// path errors.
func TestOpenAPIServer(t *testing.T) {
	o := loadAPI(t)
	cfg := api.Config{ReadTokens: []string{"read-token-0123456789"}, AdminTokens: []string{"admin-token-0123456789"}}
	cfg.SetDefaults()
	srv := httptest.NewServer(api.New(cfg, api.Deps{}, nil))
	defer srv.Close()
	cases := []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/v1/openapi.json", "", 200},
		{"GET", "/v1/users/u1", "", 401},
		{"GET", "/v1/users/u1", "wrong-token-0123456789", 401},
		{"POST", "/v1/segments/preview", "read-token-0123456789", 403},
		{"PUT", "/v1/segments/a", "read-token-0123456789", 403},
		{"DELETE", "/v1/segments/a", "read-token-0123456789", 403},
		{"PUT", "/v1/segments/a", "admin-token-0123456789", 409},
		{"DELETE", "/v1/segments/a", "admin-token-0123456789", 409},
		{"GET", "/v1/users/%00", "read-token-0123456789", 400},
		{"GET", "/v1/users/%01/history", "read-token-0123456789", 400},
		{"PATCH", "/v1/users/u1", "read-token-0123456789", 405},
		{"POST", "/v1/segments", "", 405},
		{"GET", "/v2/users", "", 404},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader("name: a\nenter: \"true\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.status, body)
		}
		if err := o.Check(req, resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
	}
}
