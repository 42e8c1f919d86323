package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/keyspace"
	"github.com/segstream/segstream/label"
)

const (
	readToken  = "read-token-0123456789"
	adminToken = "admin-token-0123456789"
)

// apiClient calls the read API and validates every response against the
// OpenAPI document.
type apiClient struct {
	t    *testing.T
	base string
	spec *testkit.OpenAPI
}

func newAPIClient(t *testing.T, s *svc) *apiClient {
	t.Helper()
	spec, err := testkit.NewOpenAPI(api.OpenAPI)
	if err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	return &apiClient{t: t, base: "http://" + s.APIAddr(), spec: spec}
}

// do sends a request and returns the status and body; the exchange must
// match the document.
func (c *apiClient) do(method, path, token string, body []byte, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	vreq, _ := http.NewRequest(method, c.base+path, nil)
	if err := c.spec.Check(vreq, resp.StatusCode, resp.Header, b); err != nil {
		c.t.Errorf("%s %s -> %d does not match api/openapi.json: %v\n%s", method, path, resp.StatusCode, err, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// page reads one members page.
func (c *apiClient) page(segment string, limit int, cursor string) api.Members {
	c.t.Helper()
	q := fmt.Sprintf("/v1/segments/%s/members?limit=%d", url.PathEscape(segment), limit)
	if cursor != "" {
		q += "&cursor=" + url.QueryEscape(cursor)
	}
	var m api.Members
	if code := c.do("GET", q, readToken, nil, &m); code != 200 {
		c.t.Fatalf("%s: %d", q, code)
	}
	return m
}

// wantError checks an error response: status, code and (if given) the
// parameter it names.
func (c *apiClient) wantError(method, path, token string, body []byte, status int, code, param string) api.Error {
	c.t.Helper()
	var e api.Error
	if got := c.do(method, path, token, body, &e); got != status || e.Code != code || (param != "" && e.Parameter != param) || e.Message == "" {
		c.t.Errorf("%s %s: got %d %+v, want %d code %q parameter %q", method, path, got, e, status, code, param)
	}
	return e
}

// apiAfterReplay starts the service with read and admin tokens and size
// samples every 200 ms, replays 1,500 Online Retail events and waits until
// every user is labelled.
func apiAfterReplay(t *testing.T, addr, prefix, group string, extra ...string) (*svc, []*events.Event, map[string]bool) {
	t.Helper()
	s := startService(t, addr, prefix, group, append([]string{
		"SEGSTREAM_API_READ_TOKENS=" + readToken,
		"SEGSTREAM_API_ADMIN_TOKENS=" + adminToken,
		"SEGSTREAM_API_SIZES_INTERVAL=200ms"}, extra...)...)
	evs := retailSlice(t, 1500)
	users := map[string]bool{}
	for _, e := range evs {
		users[e.UserID] = true
	}
	sendEvents(t, addr, evs...)
	waitAllLabelled(t, s, users)
	return s, evs, users
}

// The read API against the real service on real Redis after a replay of
// real data: every route, its contract, auth, erasure, malformed input,
// history against the change log read back with kcat, and members paging
// while members come and go.
func TestReadAPIEndToEnd(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 3)
	rdb, prefix := testkit.Redis(t)
	s, evs, users := apiAfterReplay(t, addr, prefix, "api")
	c := newAPIClient(t, s)
	ctx := context.Background()
	keys := keyspace.NewKeys(prefix)
	var sorted []string
	for u := range users {
		sorted = append(sorted, u)
	}
	sort.Strings(sorted)

	t.Run("users", func(t *testing.T) {
		c.t = t
		for _, u := range sorted[:50] {
			var got api.User
			if code := c.do("GET", "/v1/users/"+url.PathEscape(u), readToken, nil, &got); code != 200 {
				t.Fatalf("user %s: %d", u, code)
			}
			want, _, err := s.Labels.Label(ctx, u)
			if err != nil || want == nil {
				t.Fatalf("user %s: %v", u, err)
			}
			var doc label.Doc
			if err := json.Unmarshal(got.Label, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Version != want.Version || got.Version != want.Version || strings.Join(doc.Segments, ",") != strings.Join(want.Segments, ",") || doc.UserID != u {
				t.Fatalf("user %s: API %+v, stored %+v", u, doc, want)
			}
			p, err := s.Store.Get(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if got.Profile == nil || got.Profile.FirstSeen.Unix() != p.FirstSeen || got.Profile.Spend != float64(p.SpendCents)/100 || got.Profile.Events["purchase"] != p.Counts[events.TypePurchase] {
				t.Fatalf("user %s: profile summary %+v, profile first %d spend %d", u, got.Profile, p.FirstSeen, p.SpendCents)
			}
		}
		c.wantError("GET", "/v1/users/nobody-like-this", readToken, nil, 404, "not_found", "id")
		c.wantError("GET", "/v1/users/"+url.PathEscape("bad\x01id"), readToken, nil, 400, "bad_request", "id")
		c.wantError("GET", "/v1/users/"+strings.Repeat("x", 300), readToken, nil, 400, "bad_request", "id")
	})

	t.Run("history against the change log", func(t *testing.T) {
		c.t = t
		_, changes := checkLabelTopics(t, addr)
		byUser := map[string][]label.Change{}
		for _, ch := range changes {
			byUser[ch.UserID] = append(byUser[ch.UserID], ch)
		}
		checked := 0
		for _, u := range sorted {
			chs := byUser[u]
			if len(chs) < 2 {
				continue
			}
			sort.SliceStable(chs, func(i, j int) bool { return chs[i].Version < chs[j].Version })
			var h api.History
			if code := c.do("GET", "/v1/users/"+url.PathEscape(u)+"/history?limit=1000", readToken, nil, &h); code != 200 {
				t.Fatalf("history %s: %d", u, code)
			}
			if len(h.Entries) == 0 || h.Entries[0].Version != h.Version || !h.Complete {
				t.Fatalf("history %s: %+v", u, h)
			}
			for i := 1; i < len(h.Entries); i++ {
				if h.Entries[i].Version >= h.Entries[i-1].Version || h.Entries[i].At.After(h.Entries[i-1].At) {
					t.Fatalf("history %s not newest first: %+v", u, h.Entries)
				}
			}
			// the segments at T from the change log: every change at or
			// before T, in version order
			at := func(T time.Time) []string {
				in := map[string]bool{}
				for _, ch := range chs {
					if !ch.At.After(T) {
						in[ch.Segment] = ch.Change == label.Entered
					}
				}
				var out []string
				for s, ok := range in {
					if ok {
						out = append(out, s)
					}
				}
				sort.Strings(out)
				return out
			}
			var times []time.Time
			for _, ch := range chs {
				times = append(times, ch.At, ch.At.Add(-time.Second), ch.At.Add(36*time.Hour))
			}
			for _, T := range times {
				var ha api.HistoryAt
				q := "/v1/users/" + url.PathEscape(u) + "/history?at=" + url.QueryEscape(T.Format(time.RFC3339))
				if code := c.do("GET", q, readToken, nil, &ha); code != 200 {
					t.Fatalf("%s: %d", q, code)
				}
				got := append([]string{}, ha.Segments...)
				sort.Strings(got)
				if want := at(T); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("user %s at %s: API %v (version %d), change log %v", u, T, got, ha.Version, want)
				}
			}
			if checked++; checked == 40 {
				break
			}
		}
		if checked < 10 {
			t.Fatalf("only %d users with two or more changes", checked)
		}
		c.wantError("GET", "/v1/users/"+sorted[0]+"/history?at=yesterday", readToken, nil, 400, "bad_request", "at")
		c.wantError("GET", "/v1/users/"+sorted[0]+"/history?limit=-3", readToken, nil, 400, "bad_request", "limit")
		c.wantError("GET", "/v1/users/nobody-like-this/history", readToken, nil, 404, "not_found", "id")
	})

	t.Run("segments and sizes", func(t *testing.T) {
		c.t = t
		var list api.Segments
		if code := c.do("GET", "/v1/segments", readToken, nil, &list); code != 200 || len(list.Segments) == 0 {
			t.Fatalf("segments: %d %+v", code, list)
		}
		sizes, err := s.Labels.SegmentSizes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sg := range list.Segments {
			if !strings.HasSuffix(sg.Name, "*") && sg.Size != sizes[sg.Name] {
				t.Errorf("segment %s: API size %d, index %d", sg.Name, sg.Size, sizes[sg.Name])
			}
		}
		var one api.Segment
		if code := c.do("GET", "/v1/segments/new", readToken, nil, &one); code != 200 || one.Size != sizes["new"] || one.Enter == "" {
			t.Fatalf("segment new: %d %+v", code, one)
		}
		c.wantError("GET", "/v1/segments/no_such_segment", readToken, nil, 404, "not_found", "name")
		// the sampler records the size at the labels' clock
		clock, _ := s.Labels.Clock(ctx)
		var sz api.Sizes
		testkit.WaitFor(t, 10*time.Second, func() error {
			q := fmt.Sprintf("/v1/segments/new/sizes?from=%d&to=%d&step=1h", clock.Add(-24*time.Hour).Unix(), clock.Unix())
			if code := c.do("GET", q, readToken, nil, &sz); code != 200 {
				return fmt.Errorf("sizes: %d", code)
			}
			if last := sz.Points[len(sz.Points)-1]; last.Size == nil || *last.Size != sizes["new"] {
				return fmt.Errorf("last point %+v, want %d", last, sizes["new"])
			}
			return nil
		})
		if len(sz.Points) != 25 || sz.StepSeconds != 3600 {
			t.Errorf("24h at 1h: %d points, step %d", len(sz.Points), sz.StepSeconds)
		}
		// ... and exports it for Prometheus
		if g := gaugeOf(t, s.Registry, "segstream_segments_members", "new"); g != float64(sizes["new"]) {
			t.Errorf("segstream_segments_members{segment=new} = %v, index %d", g, sizes["new"])
		}
		// entries and exits per hour: every user entered new once
		var fl api.Flow
		q := fmt.Sprintf("/v1/segments/new/flow?from=%d&to=%d", clock.Add(-999*time.Hour).Unix(), clock.Unix())
		if code := c.do("GET", q, readToken, nil, &fl); code != 200 || len(fl.Hours) != 1000 {
			t.Fatalf("flow: %d, %d hours", code, len(fl.Hours))
		}
		var in, out int64
		for _, h := range fl.Hours {
			in, out = in+h.Entered, out+h.Exited
		}
		if in != int64(len(users)) || in-out != sizes["new"] {
			t.Errorf("flow of new: %d entered, %d exited; %d users, size %d", in, out, len(users), sizes["new"])
		}
		c.wantError("GET", "/v1/segments/new/flow?to=soon", readToken, nil, 400, "bad_request", "to")
		c.wantError("GET", fmt.Sprintf("/v1/segments/new/flow?from=%d", clock.Add(-2000*time.Hour).Unix()), readToken, nil, 400, "bad_request", "from")
		var hl api.Health
		if code := c.do("GET", "/v1/health", readToken, nil, &hl); code != 200 || hl.At == nil || hl.Labels.Evaluated < int64(len(users)) || hl.Consumer.EventsIn < int64(len(evs)) || len(hl.Consumer.Partitions) == 0 || hl.Labels.LatencyP99Ms == nil {
			t.Errorf("health: %+v", hl)
		}
		c.wantError("GET", "/v1/segments/new/sizes?from=2011-01-02T00:00:00Z&to=2011-01-01T00:00:00Z", readToken, nil, 400, "bad_request", "from")
		c.wantError("GET", "/v1/segments/new/sizes?from=2010-01-01T00:00:00Z&to=2011-01-01T00:00:00Z&step=1m", readToken, nil, 400, "bad_request", "step")
		c.wantError("GET", "/v1/segments/new/sizes?step=soon", readToken, nil, 400, "bad_request", "step")
		c.wantError("GET", "/v1/segments/new/sizes?to=tomorrow", readToken, nil, 400, "bad_request", "to")
	})

	t.Run("members paging while members change", func(t *testing.T) {
		c.t = t
		// a segment nobody enters, whose index this test writes: 600
		// members on 3 tied scores, churned between pages
		def := []byte("name: paging_probe\nenter: \"false\"\n")
		var ch api.Change
		if code := c.do("PUT", "/v1/segments/paging_probe", adminToken, def, &ch); code != 200 || !ch.Live {
			t.Fatalf("PUT paging_probe: %d %+v", code, ch)
		}
		mk := keys.Members("paging_probe")
		var zs []redis.Z
		for i := 0; i < 600; i++ {
			zs = append(zs, redis.Z{Score: float64(1_300_000_000 + i%3), Member: fmt.Sprintf("m%04d", i)})
		}
		if err := rdb.ZAdd(ctx, mk, zs...).Err(); err != nil {
			t.Fatal(err)
		}
		leave := map[string]bool{}
		seen := map[string]int{}
		cursor, pages := "", 0
		for {
			m := c.page("paging_probe", 37, cursor)
			for _, x := range m.Members {
				seen[x.UserID]++
			}
			pages++
			if m.NextCursor == "" {
				break
			}
			cursor = m.NextCursor
			// churn: the page's last member leaves (the cursor's own
			// member), members before and after the cursor leave, new
			// ones enter at every tied score
			last := m.Members[len(m.Members)-1].UserID
			gone := []string{last, fmt.Sprintf("m%04d", (pages*53)%600), fmt.Sprintf("m%04d", (pages*97+11)%600)}
			for _, g := range gone {
				leave[g] = true
			}
			if err := rdb.ZRem(ctx, mk, gone).Err(); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 3; k++ {
				if err := rdb.ZAdd(ctx, mk, redis.Z{Score: float64(1_300_000_000 + k), Member: fmt.Sprintf("n%03d-%d", pages, k)}).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 0; i < 600; i++ {
			u := fmt.Sprintf("m%04d", i)
			if !leave[u] && seen[u] != 1 {
				t.Fatalf("member %s stayed but was returned %d times", u, seen[u])
			}
		}
		for u, n := range seen {
			if n != 1 {
				t.Fatalf("%s returned %d times", u, n)
			}
		}
		t.Logf("%d pages, %d members seen, %d left meanwhile", pages, len(seen), len(leave))
		// limits: above the maximum are clamped, bad ones refused
		var m api.Members
		if code := c.do("GET", "/v1/segments/paging_probe/members?limit=100000", readToken, nil, &m); code != 200 || len(m.Members) > 1000 {
			t.Fatalf("clamped limit: %d, %d members", code, len(m.Members))
		}
		c.wantError("GET", "/v1/segments/paging_probe/members?limit=abc", readToken, nil, 400, "bad_request", "limit")
		c.wantError("GET", "/v1/segments/paging_probe/members?cursor=garbage", readToken, nil, 400, "bad_request", "cursor")
		c.wantError("GET", "/v1/segments/paging_probe/members?cursor=v1.!!!", readToken, nil, 400, "bad_request", "cursor")
		if code := c.do("DELETE", "/v1/segments/paging_probe", adminToken, nil, &ch); code != 200 || !ch.Live {
			t.Fatalf("DELETE paging_probe: %d %+v", code, ch)
		}
		c.wantError("GET", "/v1/segments/paging_probe/members", readToken, nil, 404, "not_found", "name")
		c.wantError("DELETE", "/v1/segments/paging_probe", adminToken, nil, 404, "not_found", "name")
		_ = rdb.Del(ctx, mk).Err()
	})

	t.Run("real members page", func(t *testing.T) {
		c.t = t
		want, err := rdb.ZRange(ctx, keys.Members("new"), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		cursor := ""
		for {
			m := c.page("new", 100, cursor)
			for _, x := range m.Members {
				got = append(got, x.UserID)
			}
			if cursor = m.NextCursor; cursor == "" {
				break
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("paged members of new (%d) differ from the index (%d)", len(got), len(want))
		}
	})

	t.Run("preview and definitions", func(t *testing.T) {
		c.t = t
		var pr api.PreviewResult
		def := []byte("name: tenure_under_30d\nenter: days_since_first_event < 30.0\n")
		if code := c.do("POST", "/v1/segments/preview", adminToken, def, &pr); code != 200 || len(pr.Segments) != 1 {
			t.Fatalf("preview: %d %+v", code, pr)
		}
		// the same rule computed here from the profiles
		want := 0
		for _, u := range sorted {
			p, err := s.Store.Get(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			asOf := pr.At
			if ls := time.Unix(p.LastSeen, 0); asOf.Before(ls) {
				asOf = ls
			}
			if asOf.Sub(time.Unix(p.FirstSeen, 0)).Hours()/24 < 30 {
				want++
			}
		}
		if pr.Profiles != len(users) || pr.Segments[0].Size != want || pr.Segments[0].Name != "tenure_under_30d" {
			t.Fatalf("preview: %+v, want %d of %d", pr, want, len(users))
		}
		e := c.wantError("POST", "/v1/segments/preview", adminToken, []byte("name: broken\nenter: spend >\n"), 400, "invalid_definition", "body")
		if len(e.Details) == 0 || e.Details[0].Field != "enter" || e.Details[0].Line != 2 {
			t.Errorf("a CEL error names its field and line: %+v", e)
		}
		e = c.wantError("POST", "/v1/segments/preview", adminToken, []byte("name: x\nenter: true\ncolour: red\n"), 400, "invalid_definition", "body")
		if !strings.Contains(e.Message, "colour") {
			t.Errorf("an unknown field is named: %+v", e)
		}
		c.wantError("POST", "/v1/segments/preview", adminToken, []byte(": : :\n\t-"), 400, "invalid_definition", "body")
		c.wantError("POST", "/v1/segments/preview", adminToken, bytes.Repeat([]byte("#"), 70_000), 413, "too_large", "body")
		c.wantError("PUT", "/v1/segments/other_name", adminToken, def, 400, "bad_request", "name")
		c.wantError("PUT", "/v1/segments/preview", adminToken, []byte("name: preview\nenter: \"true\"\n"), 400, "bad_request", "name")
		// a new definition goes live through the topic and the backfill
		// fills its index
		var ch api.Change
		if code := c.do("PUT", "/v1/segments/tenure_under_30d", adminToken, def, &ch); code != 200 || !ch.Live || ch.Version == "" {
			t.Fatalf("PUT: %d %+v", code, ch)
		}
		testkit.WaitFor(t, 60*time.Second, func() error {
			var sg api.Segment
			if code := c.do("GET", "/v1/segments/tenure_under_30d", readToken, nil, &sg); code != 200 {
				return fmt.Errorf("GET: %d", code)
			}
			if sg.Size == 0 {
				return fmt.Errorf("no members yet")
			}
			return nil
		})
		c.wantError("DELETE", "/v1/segments/new", adminToken, nil, 409, "conflict", "")
	})

	t.Run("auth", func(t *testing.T) {
		c.t = t
		u := "/v1/users/" + url.PathEscape(sorted[0])
		c.wantError("GET", u, "", nil, 401, "unauthorized", "")
		c.wantError("GET", u, "wrong-token-0123456789", nil, 401, "unauthorized", "")
		c.wantError("POST", "/v1/segments/preview", readToken, []byte("name: x\nenter: true\n"), 403, "forbidden", "")
		c.wantError("PUT", "/v1/segments/x", readToken, []byte("name: x\nenter: true\n"), 403, "forbidden", "")
		c.wantError("DELETE", "/v1/segments/new", readToken, nil, 403, "forbidden", "")
		if code := c.do("GET", u, adminToken, nil, nil); code != 200 {
			t.Errorf("admin token on a read route: %d", code)
		}
		resp, err := http.Get(c.base + "/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(b, api.OpenAPI) {
			t.Errorf("openapi.json: %d, %d bytes", resp.StatusCode, len(b))
		}
		c.wantError("GET", "/v1/nothing/here", readToken, nil, 404, "not_found", "")
		// the dashboard's cookie: the token, and the header against forgery
		req, _ := http.NewRequest("GET", c.base+u, nil)
		req.AddCookie(&http.Cookie{Name: api.CookieName, Value: readToken})
		for _, tc := range []struct {
			header string
			want   int
		}{{"", 403}, {"1", 200}} {
			req.Header.Set("X-Segstream-UI", tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("cookie, X-Segstream-UI %q: %d, want %d", tc.header, resp.StatusCode, tc.want)
			}
		}
		c.wantError("PATCH", "/v1/segments", readToken, nil, 405, "method_not_allowed", "")
	})

	t.Run("erased", func(t *testing.T) {
		c.t = t
		u := sorted[len(sorted)-1]
		d, _, _ := s.Labels.Label(ctx, u)
		if err := s.Labels.Erase(ctx, u); err != nil {
			t.Fatal(err)
		}
		e := c.wantError("GET", "/v1/users/"+url.PathEscape(u), readToken, nil, 410, "erased", "")
		if strings.Contains(e.Message, "segments") {
			t.Errorf("erased answer: %+v", e)
		}
		c.wantError("GET", "/v1/users/"+url.PathEscape(u)+"/history", readToken, nil, 410, "erased", "")
		c.wantError("GET", "/v1/users/"+url.PathEscape(u)+"/history?at=2011-01-15T00:00:00Z", readToken, nil, 410, "erased", "")
		if n, _ := rdb.Exists(ctx, keys.History(u)).Result(); n != 0 {
			t.Error("the history of an erased user is kept")
		}
		for _, seg := range d.Segments {
			var m api.Members
			c.do("GET", "/v1/segments/"+url.PathEscape(seg)+"/members?limit=1000", readToken, nil, &m)
			for _, x := range m.Members {
				if x.UserID == u {
					t.Fatalf("erased user still a member of %s", seg)
				}
			}
		}
	})
}

// With no token configured the API listens on loopback only, whatever
// host api.listen names, and every route is open.
func TestReadAPIWithoutTokenIsLoopbackOnly(t *testing.T) {
	testkit.NeedModels(t)
	addr := testkit.Kafka(t, 1)
	_, prefix := testkit.Redis(t)
	s := startService(t, addr, prefix, "api-open", "SEGSTREAM_API_LISTEN=0.0.0.0:0")
	testkit.WaitFor(t, 30*time.Second, func() error {
		if s.APIAddr() == "" {
			return fmt.Errorf("the API is not listening yet")
		}
		return nil
	})
	if !strings.HasPrefix(s.APIAddr(), "127.0.0.1:") {
		t.Fatalf("no token, but the API listens on %s", s.APIAddr())
	}
	c := newAPIClient(t, s)
	var list api.Segments
	if code := c.do("GET", "/v1/segments", "", nil, &list); code != 200 || len(list.Segments) == 0 {
		t.Fatalf("open API: %d %+v", code, list)
	}
}

// gaugeOf is a gauge's value for one segment label (-1 when absent).
func gaugeOf(t *testing.T, g prometheus.Gatherer, name, segment string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "segment" && l.GetValue() == segment {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
