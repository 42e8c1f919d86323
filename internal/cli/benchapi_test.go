package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestBenchAPIPercentile(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i + 1)
		}
		return v
	}
	for _, c := range []struct {
		n    int
		p    float64
		want float64
	}{
		{1, 50, 1}, {1, 99.9, 1},
		{10, 50, 5}, {10, 90, 9}, {10, 99, 10}, {10, 100, 10}, {10, 0, 1}, {10, 10, 1}, {10, 11, 2},
		{100, 50, 50}, {100, 99, 99}, {100, 99.9, 100},
		{1000, 99.9, 999}, {1000, 99, 990}, {1000, 50, 500},
		{4, 25, 1}, {4, 26, 2}, {4, 75, 3}, {4, 76, 4},
		{2000, 99.9, 1998},
	} {
		if got := percentile(seq(c.n), c.p); got != c.want {
			t.Errorf("percentile(1..%d, %g) = %g, want %g", c.n, c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile of nothing = %g, want NaN", got)
	}
	s := summarizeLatencies([]float64{5, 1, 4, 2, 3})
	if want := (latencySummary{P50: 3, P90: 5, P99: 5, P999: 5, Max: 5}); s != want {
		t.Errorf("summarizeLatencies = %+v, want %+v", s, want)
	}
	if s := summarizeLatencies(nil); s != (latencySummary{}) {
		t.Errorf("summarizeLatencies(nil) = %+v, want zeros", s)
	}
}

func TestBenchAPISchedule(t *testing.T) {
	for _, c := range []struct {
		i    int
		rate float64
		want time.Duration
	}{
		{0, 1000, 0}, {1, 1000, time.Millisecond}, {1500, 1000, 1500 * time.Millisecond},
		{1, 10000, 100 * time.Microsecond}, {3, 3, time.Second}, {1, 3, 333333333}, {7, 0.5, 14 * time.Second},
	} {
		if got := scheduleOffset(c.i, c.rate); got != c.want {
			t.Errorf("scheduleOffset(%d, %g) = %s, want %s", c.i, c.rate, got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		rate float64
		want int
	}{
		{0, 1000, 0}, {time.Second, 1000, 1000}, {2 * time.Second, 1000, 2000}, {12 * time.Second, 10000, 120000},
		{time.Second, 3, 3}, {time.Second, 2.5, 3}, {time.Millisecond, 1000, 1}, {time.Millisecond + 1, 1000, 2},
		{10 * time.Second, 0.3, 3},
	} {
		got := scheduleCount(c.d, c.rate)
		if got != c.want {
			t.Errorf("scheduleCount(%s, %g) = %d, want %d", c.d, c.rate, got, c.want)
		}
		// the definition: request n-1 is due before d, request n is not
		if got > 0 && scheduleOffset(got-1, c.rate) >= c.d || scheduleOffset(got, c.rate) < c.d {
			t.Errorf("scheduleCount(%s, %g) = %d does not split the schedule at %s", c.d, c.rate, got, c.d)
		}
	}
	// warm-up and window split one schedule: every request in exactly one
	for _, rate := range []float64{1000, 5000, 10000, 333, 0.7} {
		warm, total := scheduleCount(2*time.Second, rate), scheduleCount(12*time.Second, rate)
		for _, i := range []int{warm - 1, warm, total - 1} {
			if i < 0 {
				continue
			}
			off := scheduleOffset(i, rate)
			if measured := i >= warm; measured != (off >= 2*time.Second && off < 12*time.Second) {
				t.Errorf("rate %g: request %d at %s measured=%v", rate, i, off, measured)
			}
		}
	}
}

func TestBenchAPIFlags(t *testing.T) {
	env := func(tok string) func(string) string {
		return func(k string) string {
			if k == "SEGSTREAM_API_TOKEN" {
				return tok
			}
			return ""
		}
	}
	var errb bytes.Buffer
	f, err := parseBenchAPIFlags(nil, env("s3cret"), newOutput(&errb))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.rates, []float64{1000, 5000, 10000}) || f.duration != 10*time.Second || f.warmup != 2*time.Second ||
		f.users != 2000 || f.conns != 64 || f.page != 200 || f.url != "" || f.jsonFile != "" || f.redis != "" ||
		f.setupTimeout != 10*time.Minute || f.verbose || f.token != "s3cret" {
		t.Errorf("defaults: %+v", f)
	}

	f, err = parseBenchAPIFlags([]string{"--url", "http://127.0.0.1:8080/", "--token", "", "--rates", " 200, 2500.5 ,", "--duration", "3s",
		"--warmup", "0s", "--users", "10", "--conns", "4", "--page", "0", "--json", "out.json"}, env("s3cret"), newOutput(&errb))
	if err != nil {
		t.Fatal(err)
	}
	if f.url != "http://127.0.0.1:8080" || f.token != "" || !reflect.DeepEqual(f.rates, []float64{200, 2500.5}) || f.duration != 3*time.Second ||
		f.warmup != 0 || f.users != 10 || f.conns != 4 || f.page != 0 || f.jsonFile != "out.json" {
		t.Errorf("set: %+v (an explicit empty --token wins over the environment)", f)
	}
	if f, err = parseBenchAPIFlags([]string{"--token", "tok"}, env("s3cret"), newOutput(&errb)); err != nil || f.token != "tok" {
		t.Errorf("--token tok: %q, %v", f.token, err)
	}

	errb.Reset()
	if _, err := parseBenchAPIFlags([]string{"-h"}, env("s3cret"), newOutput(&errb)); err == nil {
		t.Error("-h: no error")
	}
	if help := errb.String(); strings.Contains(help, "s3cret") || !strings.Contains(help, "--rates") && !strings.Contains(help, "-rates") {
		t.Errorf("help prints the token or lacks the flags:\n%s", help)
	}

	for _, bad := range [][]string{
		{"--rates", "0"}, {"--rates", "-5"}, {"--rates", "fast"}, {"--rates", ","}, {"--rates", "Inf"}, {"--rates", "NaN"},
		{"--duration", "0s"}, {"--warmup", "-1s"}, {"--users", "0"}, {"--conns", "0"}, {"--page", "-1"},
		{"--setup-timeout", "0s"}, {"--url", "127.0.0.1:8080"}, {"--url", "http://x", "--redis", "127.0.0.1:6379"},
		{"extra"}, {"--nope"},
	} {
		errb.Reset()
		if _, err := parseBenchAPIFlags(bad, env(""), newOutput(&errb)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestBenchAPIAgainstServer runs the sampling, a short open-loop rate and
// the page measurement against a fake of the API.
func TestBenchAPIAgainstServer(t *testing.T) {
	const token = "tok"
	members := map[string][]string{"interest:fashion": nil, "interest:home": {"u/1", "u/9999"}, "vip": nil, "empty": nil}
	for i := 0; i < 2500; i++ {
		members["interest:fashion"] = append(members["interest:fashion"], fmt.Sprintf("u/%d", i))
	}
	for i := 2000; i < 2600; i++ { // overlaps the first
		members["vip"] = append(members["vip"], fmt.Sprintf("u/%d", i))
	}
	var hits, badPaths atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/segments", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"set_version": "v1", "segments": []map[string]any{
			{"name": "vip", "size": len(members["vip"])}, {"name": "empty", "size": 0}, {"name": "gone", "size": 5000},
			{"name": "interest:*", "size": 2502, "keys": map[string]int{"interest:fashion": 2500, "interest:home": 2}}}})
	})
	mux.HandleFunc("GET /v1/segments/{name}/members", func(w http.ResponseWriter, r *http.Request) {
		m, ok := members[r.PathValue("name")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"not_found","message":"no such segment"}`))
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit < 1 || limit > 1000 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		to := min(from+limit, len(m))
		page := map[string]any{"segment": r.PathValue("name"), "size": len(m)}
		var ms []map[string]string
		for _, id := range m[from:to] {
			ms = append(ms, map[string]string{"user_id": id, "since": "2011-01-01T00:00:00Z"})
		}
		page["members"] = ms
		if to < len(m) {
			page["next_cursor"] = strconv.Itoa(to)
		}
		_ = json.NewEncoder(w).Encode(page)
	})
	mux.HandleFunc("GET /v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		id := r.PathValue("id")
		if !strings.HasPrefix(r.URL.EscapedPath(), "/v1/users/u%2F") {
			badPaths.Add(1)
		}
		if strings.HasSuffix(id, "7") {
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"code":"erased","message":"erased"}`))
			return
		}
		_, _ = w.Write([]byte(`{"user_id":"` + id + `"}`))
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"bad token"}`))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx := context.Background()
	var errb bytes.Buffer
	stderr := newOutput(&errb)
	client := newBenchAPIClient(8, 5*time.Second)
	defer client.CloseIdleConnections()
	if _, _, _, err := collectUserIDs(ctx, client, srv.URL, "Bearer wrong", 10, stderr); err == nil || !strings.Contains(err.Error(), "unauthorized: bad token") {
		t.Errorf("wrong token: %v", err)
	}
	ids, largest, ver, err := collectUserIDs(ctx, client, srv.URL, "Bearer "+token, 2550, stderr)
	if err != nil {
		t.Fatal(err)
	}
	// "gone" (404) is skipped, the family gives its keys
	if len(ids) != 2550 || ver != "v1" || largest.Name != "interest:fashion" || largest.Size != 2500 || ids[2549] != "u/2549" ||
		!strings.Contains(errb.String(), "skipping segment gone") {
		t.Errorf("sampled %d ids (last %q), set %q, largest %+v\n%s", len(ids), ids[len(ids)-1], ver, largest, errb.String())
	}
	all, _, _, err := collectUserIDs(ctx, client, srv.URL, "Bearer "+token, 1_000_000, stderr)
	if err != nil || len(all) != 2601 {
		t.Errorf("all users: %d, %v", len(all), err)
	}

	urls := make([]string, 0, len(ids))
	for _, id := range ids {
		urls = append(urls, srv.URL+"/v1/users/"+url.PathEscape(id))
	}
	var r apiRateResult
	var f benchAPIFlags
	for _, cl := range []string{"go", "raw"} {
		hits.Store(0)
		f = benchAPIFlags{warmup: 50 * time.Millisecond, duration: 300 * time.Millisecond, conns: 8, timeout: 5 * time.Second, client: cl}
		if r, err = runAPIRate(ctx, client, srv.URL, urls, "Bearer "+token, 1000, f, 0); err != nil {
			t.Fatal(err)
		}
		checkRate(t, cl, r, hits.Load(), badPaths.Load())
	}
	p, err := measureAPIPage(ctx, client, srv.URL, "Bearer "+token, largest, 5)
	if err != nil {
		t.Fatal(err)
	}
	if p.OK != 5 || p.Size != 2500 || p.Members != 1000 || p.Max < p.P50 || !strings.Contains(p.URL, "/v1/segments/interest:fashion/members?limit=1000") {
		t.Errorf("page: %+v", p)
	}
	var out bytes.Buffer
	printBenchAPI(newOutput(&out), benchAPIReport{URL: srv.URL, Rates: []apiRateResult{r}, Page: &p}, f)
	if s := out.String(); !strings.Contains(s, "target/s  achieved/s") || !strings.Contains(s, "members page:") || strings.Contains(s, token) {
		t.Errorf("table:\n%s", s)
	}
	t.Logf("\n%s", out.String())
}

func checkRate(t *testing.T, client string, r apiRateResult, hits, badPaths int64) {
	t.Helper()
	t.Logf("client %s", client)
	if r.Scheduled != 300 || r.Completed+r.Errors+r.Unsent != 300 || r.Errors != 0 || r.Unsent != 0 || hits != 350 || badPaths != 0 {
		t.Errorf("result %+v, %d hits (%d badly escaped)", r, hits, badPaths)
	}
	if r.Non2xx == 0 || r.Statuses[http.StatusGone] != r.Non2xx || r.OK+r.Non2xx != r.Completed || r.FirstNon2xx == "" {
		t.Errorf("410s: %+v", r)
	}
	if r.Achieved < 500 || r.Achieved > 1001 || r.P50 <= 0 || r.P50 > r.P90 || r.P99 > r.Max || r.GeneratorCPUS < 0 {
		t.Errorf("figures: %+v", r)
	}
	if _, err := json.Marshal(benchAPIReport{Rates: []apiRateResult{r, {Statuses: map[int]int{}}}}); err != nil {
		t.Errorf("JSON: %v", err)
	}
}

// The test binary plays the service that bench-api starts (and something
// that service starts in turn) when these are set: see
// TestBenchAPIService.
func init() {
	switch {
	case os.Getenv("SEGSTREAM_BENCHAPI_FAKE_CHILD") == "1":
		time.Sleep(time.Hour)
		os.Exit(0)
	case os.Getenv("SEGSTREAM_BENCHAPI_FAKE_DEMO") != "" && len(os.Args) > 1 && os.Args[1] == "demo":
		os.Exit(fakeDemo(os.Args[2:]))
	}
}

// fakeDemo is `segstream demo --stay --api ADDR`: a replay that takes a
// moment, an API with /v1/segments, and a process of its own in its group
// whose pid it writes to $SEGSTREAM_BENCHAPI_FAKE_DEMO.
func fakeDemo(args []string) int {
	addr := ""
	for i, a := range args {
		if a == "--api" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"set_version":"v1","segments":[]}`))
		}))
	}()
	self, _ := os.Executable()
	c := exec.Command(self)
	c.Env = append(os.Environ(), "SEGSTREAM_BENCHAPI_FAKE_CHILD=1")
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = os.WriteFile(os.Getenv("SEGSTREAM_BENCHAPI_FAKE_DEMO"), []byte(strconv.Itoa(c.Process.Pid)), 0o644)
	fmt.Println("replaying 3 events from a.csv")
	fmt.Fprintln(os.Stderr, "a warning from the demo")
	time.Sleep(300 * time.Millisecond)
	fmt.Println("  [   1s] events 3")
	fmt.Println("\nreplay done: 3 events in 0s")
	fmt.Println("\n--stay: still serving; Ctrl-C to stop")
	time.Sleep(time.Hour)
	return 0
}

// TestBenchAPIService starts the (fake) service as bench-api does, loads
// it, and checks that stopping it ends its whole process group.
func TestBenchAPIService(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	t.Setenv("SEGSTREAM_BENCHAPI_FAKE_DEMO", pidFile)
	var errb bytes.Buffer
	stderr := newOutput(&errb)
	s, err := startAPIService(context.Background(), benchAPIFlags{setupTimeout: 20 * time.Second, verbose: true}, stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	client := newBenchAPIClient(1, 5*time.Second)
	defer client.CloseIdleConnections()
	_, largest, ver, err := collectUserIDs(context.Background(), client, s.url, "", 10, stderr)
	if err == nil || !strings.Contains(err.Error(), "no user ids") || largest.Name != "" || ver != "" {
		t.Errorf("collecting from a service without members: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(string(b))
	s.stop(stderr)
	if !gone(child) {
		t.Errorf("the service's own child %d still runs after stop", child)
	}
	log := errb.String()
	for _, want := range []string{"bench-api: service: replaying 3 events", "bench-api: service: replay done", "service: a warning from the demo"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "bench-api: service: [") {
		t.Errorf("a line without \"replay\" in it was shown as progress:\n%s", log)
	}
}

// gone: pid has exited (a zombie waiting for its parent's wait counts).
func gone(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(st)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
