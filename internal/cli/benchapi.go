package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func init() {
	register("bench-api", "load the HTTP read API (GET /v1/users/{id}) open-loop at steady rates and report latency percentiles", cmdBenchAPI)
}

// benchAPIFlags are the settings of bench-api.
type benchAPIFlags struct {
	url          string        // base URL of the API; empty: start the service
	token        string        // bearer token; empty: no Authorization header
	rates        []float64     // target requests per second, one run each
	duration     time.Duration // measured time per rate
	warmup       time.Duration // unmeasured time before each rate's measurement
	users        int           // distinct user ids to sample
	conns        int           // at most this many requests in flight (and connections)
	page         int           // sequential GETs of the largest segment's first page; 0 skips
	jsonFile     string        // also write the results here
	redis        string        // passed to the started service (demo --redis)
	setupTimeout time.Duration // how long the started service may take to be ready
	timeout      time.Duration // per request
	verbose      bool          // forward the started service's stderr
	client       string        // raw (lean HTTP/1.1) or go (net/http) for the measured requests
}

// apiPageLimit is the members page size that bench-api reads (the API's
// maximum).
const apiPageLimit = 1000

// parseBenchAPIFlags parses bench-api's arguments; getenv supplies the
// token's default (SEGSTREAM_API_TOKEN). The token is never a flag default:
// -h prints defaults, and it must not print the token.
func parseBenchAPIFlags(args []string, getenv func(string) string, stderr *output) (benchAPIFlags, error) {
	var f benchAPIFlags
	fs := newFlags("bench-api", "[--url http://127.0.0.1:8080] [--rates 1000,5000,10000] [--duration 10s] [--conns 64] [--json FILE]", stderr)
	fs.StringVar(&f.url, "url", "", "base URL of the API (empty: start segstream demo --stay --api 127.0.0.1:PORT --http off and load that)")
	fs.StringVar(&f.token, "token", "", "bearer token (default: $SEGSTREAM_API_TOKEN; empty: no Authorization header)")
	rates := fs.String("rates", "1000,5000,10000", "comma-separated target rates in requests per second, one run each")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per rate")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "load before each rate's measurement that is not measured")
	fs.IntVar(&f.users, "users", 2000, "distinct user ids to sample from the segments' members")
	fs.IntVar(&f.conns, "conns", 64, "most requests in flight at once (and HTTP connections)")
	fs.IntVar(&f.page, "page", 200, "also time this many sequential GETs of the largest segment's first members page (limit 1000); 0 skips")
	fs.StringVar(&f.jsonFile, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&f.redis, "redis", "", "Redis for the started service (empty: the demo embeds its own); only without --url")
	fs.DurationVar(&f.setupTimeout, "setup-timeout", 10*time.Minute, "how long the started service may take to finish its replay")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout (a request past it counts as an error)")
	fs.BoolVar(&f.verbose, "verbose", false, "forward the started service's stderr (prefixed)")
	fs.StringVar(&f.client, "client", "raw", "HTTP client of the measured requests: raw (a lean HTTP/1.1 keep-alive client, so the generator takes less of the shared cores) or go (net/http)")
	if err := parse(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return f, errUsage
	}
	tokenSet := false
	fs.Visit(func(fl *flag.Flag) { tokenSet = tokenSet || fl.Name == "token" })
	if !tokenSet {
		f.token = getenv("SEGSTREAM_API_TOKEN")
	}
	var err error
	if f.rates, err = parseRates(*rates); err != nil {
		return f, err
	}
	switch {
	case f.duration <= 0:
		return f, fmt.Errorf("--duration %s: must be positive", f.duration)
	case f.warmup < 0:
		return f, fmt.Errorf("--warmup %s: must not be negative", f.warmup)
	case f.users < 1:
		return f, fmt.Errorf("--users %d: must be at least 1", f.users)
	case f.conns < 1:
		return f, fmt.Errorf("--conns %d: must be at least 1", f.conns)
	case f.page < 0:
		return f, fmt.Errorf("--page %d: must not be negative", f.page)
	case f.setupTimeout <= 0:
		return f, fmt.Errorf("--setup-timeout %s: must be positive", f.setupTimeout)
	case f.timeout <= 0:
		return f, fmt.Errorf("--timeout %s: must be positive", f.timeout)
	case f.client != "raw" && f.client != "go":
		return f, fmt.Errorf("--client %q: raw or go", f.client)
	case f.url != "" && f.redis != "":
		return f, errors.New("--redis is for the service bench-api starts; it has no effect with --url")
	}
	if f.url != "" {
		u, err := url.Parse(f.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return f, fmt.Errorf("--url %q: want an http(s) base URL such as http://127.0.0.1:8080", f.url)
		}
		f.url = strings.TrimRight(f.url, "/")
	}
	return f, nil
}

// parseRates parses --rates: positive, finite requests per second.
func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, p := range splitList(s) {
		r, err := strconv.ParseFloat(p, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("--rates: %q is not a positive number of requests per second", p)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--rates %q: no rate", s)
	}
	return out, nil
}

func cmdBenchAPI(ctx context.Context, args []string, stdout, stderr *output) error {
	f, err := parseBenchAPIFlags(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	rep := benchAPIReport{
		URL: f.url, GeneratorPID: os.Getpid(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Conns: f.conns, Client: f.client, WarmupS: f.warmup.Seconds(), DurationS: f.duration.Seconds(),
	}
	if f.url == "" {
		svc, err := startAPIService(ctx, f, stderr)
		if err != nil {
			return err
		}
		defer svc.stop(stderr)
		rep.URL, rep.ServicePID, rep.ServiceCommand = svc.url, svc.cmd.Process.Pid, svc.command
	}
	client := newBenchAPIClient(f.conns, f.timeout)
	defer client.CloseIdleConnections()
	auth := ""
	if f.token != "" {
		auth = "Bearer " + f.token
	}

	ids, largest, setVersion, err := collectUserIDs(ctx, client, rep.URL, auth, f.users, stderr)
	if err != nil {
		return err
	}
	rep.Users, rep.SetVersion = len(ids), setVersion
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = rep.URL + "/v1/users/" + url.PathEscape(id)
	}
	for i, rate := range f.rates {
		stderr.printf("bench-api: %s requests/s: %s warm-up, then %s measured\n", formatRate(rate), f.warmup, f.duration)
		r, err := runAPIRate(ctx, client, rep.URL, urls, auth, rate, f, uint64(i))
		if err != nil {
			return err
		}
		if r.FirstError != "" {
			stderr.printf("bench-api: %s requests/s: %d errors, the first: %s\n", formatRate(rate), r.Errors, r.FirstError)
		}
		if r.FirstNon2xx != "" {
			stderr.printf("bench-api: %s requests/s: %d non-2xx responses, the first: %s\n", formatRate(rate), r.Non2xx, r.FirstNon2xx)
		}
		rep.Rates = append(rep.Rates, r)
	}
	if f.page > 0 {
		if largest.Name == "" {
			stderr.printf("bench-api: no segment could be paged; the members page is not measured\n")
		} else {
			stderr.printf("bench-api: %d sequential GETs of the first members page of %s\n", f.page, largest.Name)
			p, err := measureAPIPage(ctx, client, rep.URL, auth, largest, f.page)
			if err != nil {
				return err
			}
			rep.Page = &p
		}
	}

	printBenchAPI(stdout, rep, f)
	if f.jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchAPIReport is what bench-api measured (--json writes it).
type benchAPIReport struct {
	URL            string          `json:"url"`
	ServicePID     int             `json:"service_pid,omitempty"` // the service bench-api started (no --url)
	ServiceCommand string          `json:"service_command,omitempty"`
	GeneratorPID   int             `json:"generator_pid"`
	NumCPU         int             `json:"num_cpu"`
	GOMAXPROCS     int             `json:"gomaxprocs"`
	Conns          int             `json:"conns"`
	Client         string          `json:"client"`
	Users          int             `json:"users_sampled"`
	SetVersion     string          `json:"set_version"`
	WarmupS        float64         `json:"warmup_s"`
	DurationS      float64         `json:"duration_s"`
	Rates          []apiRateResult `json:"rates"`
	Page           *apiPageResult  `json:"page,omitempty"`
}

// latencySummary is the nearest-rank percentiles and the maximum of some
// latencies in milliseconds; all zero when there were none.
type latencySummary struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// summarizeLatencies sorts ms in place and summarizes it.
func summarizeLatencies(ms []float64) latencySummary {
	if len(ms) == 0 {
		return latencySummary{}
	}
	sort.Float64s(ms)
	return latencySummary{
		P50: percentile(ms, 50), P90: percentile(ms, 90), P99: percentile(ms, 99), P999: percentile(ms, 99.9),
		Max: ms[len(ms)-1],
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted,
// which is in increasing order: the smallest value that at least p percent
// of the values are at or below. It is one of the values, never an
// interpolation; p <= 0 gives the smallest. NaN when sorted is empty.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	// rank = ceil(p/100 * n); the tolerance keeps 99.9% of 1000 at 999,
	// not 1000, when the product comes out a hair above the integer
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// scheduleOffset is when request i of an open-loop run at rate requests
// per second is due, after the run's start: i/rate.
func scheduleOffset(i int, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// scheduleCount is how many requests of a run at rate are due before d:
// the smallest i with scheduleOffset(i, rate) >= d.
func scheduleCount(d time.Duration, rate float64) int {
	if d <= 0 {
		return 0
	}
	n := int(math.Ceil(d.Seconds() * rate))
	for n > 0 && scheduleOffset(n-1, rate) >= d {
		n--
	}
	for scheduleOffset(n, rate) < d {
		n++
	}
	return n
}

// apiRateResult is one rate's measurement. Completed counts the measured
// requests answered (any status; the body read to its end), OK those with
// a 2xx status, whose latencies the percentiles are of.
type apiRateResult struct {
	Target    float64     `json:"target_per_s"`
	Achieved  float64     `json:"achieved_per_s"` // Completed / WallS
	Scheduled int         `json:"scheduled"`      // requests due in the measured window
	Completed int         `json:"completed"`
	OK        int         `json:"ok"`
	Errors    int         `json:"errors"`  // transport errors and timeouts
	Non2xx    int         `json:"non_2xx"` // answered, but not with a 2xx status
	Unsent    int         `json:"unsent"`  // due in the window but still not sent at the cut-off
	Statuses  map[int]int `json:"statuses"`
	WallS     float64     `json:"wall_s"` // window start to the last measured answer (at least the window)
	latencySummary
	GeneratorCPUS  float64 `json:"generator_cpu_s"` // this process's user+system CPU over the measurement
	GeneratorCores float64 `json:"generator_cores"` // GeneratorCPUS per second of its wall time
	FirstError     string  `json:"first_error,omitempty"`
	FirstNon2xx    string  `json:"first_non_2xx,omitempty"`
}

// apiJob is one request a worker sends: due at at, measured or warm-up.
type apiJob struct {
	at       time.Time
	url      string
	measured bool
}

// apiTally is one worker's count of its measured requests (no locks: each
// worker has its own, merged when the run is over).
type apiTally struct {
	lat                           []float64 // ms, 2xx only
	completed, ok, errors, non2xx int
	statuses                      map[int]int
	lastEnd                       time.Time
	firstErr, firstNon2xx         string
	firstErrAt, firstNon2xxAt     time.Time
}

// runAPIRate loads GET /v1/users/{id} open-loop at rate: request i is due
// at start + i/rate whether or not earlier ones have been answered, and its
// latency runs from then (not from when a connection was free to send it)
// to the end of its body, so time spent queued behind a slow server counts
// (no coordinated omission). At most f.conns requests are in flight; a
// request due while all are busy waits for one, and that wait is in its
// latency. The first f.warmup is not measured. Requests due in the
// measured window that still have not been sent f.duration after it ended
// (at least 5 s) are given up and counted as unsent.
func runAPIRate(ctx context.Context, client *http.Client, base string, urls []string, auth string, rate float64, f benchAPIFlags, seed uint64) (apiRateResult, error) {
	warm := scheduleCount(f.warmup, rate)
	total := scheduleCount(f.warmup+f.duration, rate)
	res := apiRateResult{Target: rate, Scheduled: total - warm, Statuses: map[int]int{}}
	rng := rand.New(rand.NewPCG(0x5e657472, seed)) // fixed: every run asks for the same users in the same order

	if f.client == "raw" {
		if _, err := newRawConn(base, auth, f.timeout); err != nil {
			return res, err
		}
	}
	jobs := make(chan apiJob)
	tallies := make([]apiTally, f.conns)
	var wg sync.WaitGroup
	for w := range tallies {
		tallies[w].statuses = map[int]int{}
		wg.Add(1)
		go func(t *apiTally) {
			defer wg.Done()
			get := func(u string) (int, []byte, error) { return apiGet(ctx, client, u, auth, false) }
			if f.client == "raw" {
				rc, _ := newRawConn(base, auth, f.timeout) // checked above
				defer rc.close()
				get = func(u string) (int, []byte, error) { return rc.get(strings.TrimPrefix(u, base)) }
			}
			for j := range jobs {
				t.do(ctx, get, j)
			}
		}(&tallies[w])
	}

	start := time.Now()
	windowStart, windowEnd := start.Add(f.warmup), start.Add(f.warmup+f.duration)
	cutoff := time.NewTimer(time.Until(windowEnd.Add(max(f.duration, 5*time.Second))))
	defer cutoff.Stop()
	sleep := time.NewTimer(time.Hour)
	defer sleep.Stop()
	var cpu0 time.Duration
	var t0 time.Time
	sent := 0
loop:
	for i := 0; i < total; i++ {
		at := start.Add(scheduleOffset(i, rate))
		if d := time.Until(at); d > 0 {
			sleep.Reset(d)
			select {
			case <-sleep.C:
			case <-ctx.Done():
				break loop
			}
		}
		if i == warm {
			cpu0, t0 = processCPU(), time.Now()
		}
		j := apiJob{at: at, url: urls[rng.IntN(len(urls))], measured: i >= warm}
		select {
		case jobs <- j:
			if j.measured {
				sent++
			}
		case <-ctx.Done():
			break loop
		case <-cutoff.C:
			break loop
		}
	}
	if t0.IsZero() { // cut off before the window's first request was sent
		cpu0, t0 = processCPU(), time.Now()
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	cpuEnd, tEnd := processCPU(), time.Now()

	res.Unsent = res.Scheduled - sent
	var lat []float64
	lastEnd := windowEnd
	var firstErrAt, firstNon2xxAt time.Time
	for i := range tallies {
		t := &tallies[i]
		lat = append(lat, t.lat...)
		res.Completed += t.completed
		res.OK += t.ok
		res.Errors += t.errors
		res.Non2xx += t.non2xx
		for c, n := range t.statuses {
			res.Statuses[c] += n
		}
		if t.lastEnd.After(lastEnd) {
			lastEnd = t.lastEnd
		}
		if t.firstErr != "" && (firstErrAt.IsZero() || t.firstErrAt.Before(firstErrAt)) {
			res.FirstError, firstErrAt = t.firstErr, t.firstErrAt
		}
		if t.firstNon2xx != "" && (firstNon2xxAt.IsZero() || t.firstNon2xxAt.Before(firstNon2xxAt)) {
			res.FirstNon2xx, firstNon2xxAt = t.firstNon2xx, t.firstNon2xxAt
		}
	}
	res.WallS = lastEnd.Sub(windowStart).Seconds()
	res.Achieved = float64(res.Completed) / res.WallS
	res.latencySummary = summarizeLatencies(lat)
	res.GeneratorCPUS = (cpuEnd - cpu0).Seconds()
	if w := tEnd.Sub(t0).Seconds(); w > 0 {
		res.GeneratorCores = res.GeneratorCPUS / w
	}
	return res, nil
}

// do sends one request and, if it is measured, counts it.
func (t *apiTally) do(ctx context.Context, get func(string) (int, []byte, error), j apiJob) {
	status, body, err := get(j.url)
	end := time.Now()
	if !j.measured || ctx.Err() != nil {
		return
	}
	if err != nil {
		t.errors++
		if t.firstErr == "" {
			t.firstErr, t.firstErrAt = err.Error(), end
		}
		return
	}
	t.completed++
	t.statuses[status]++
	if end.After(t.lastEnd) {
		t.lastEnd = end
	}
	if status/100 != 2 {
		t.non2xx++
		if t.firstNon2xx == "" {
			t.firstNon2xx, t.firstNon2xxAt = fmt.Sprintf("GET %s: %s", j.url, describeAPIError(status, body)), end
		}
		return
	}
	t.ok++
	t.lat = append(t.lat, float64(end.Sub(j.at))/float64(time.Millisecond))
}

// apiGet sends GET u and reads the answer to its end. It keeps the body
// only when keep is set or the status is not 2xx (then at most 4 KiB, for
// the error message); otherwise it is read and discarded.
func apiGet(ctx context.Context, client *http.Client, u, auth string, keep bool) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }() // a read-only body: nothing to lose
	var body []byte
	switch {
	case keep && resp.StatusCode/100 == 2:
		body, err = io.ReadAll(resp.Body)
	case resp.StatusCode/100 != 2:
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
	default:
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("reading the body of GET %s: %w", u, err)
	}
	return resp.StatusCode, body, nil
}

// describeAPIError is an error answer in words: its status and the API's
// {"code","message"} document (or the start of the body if it is not one).
func describeAPIError(status int, body []byte) string {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	s := strconv.Itoa(status) + " " + http.StatusText(status)
	if json.Unmarshal(body, &e) == nil && (e.Code != "" || e.Message != "") {
		return s + ": " + e.Code + ": " + e.Message
	}
	if b := strings.TrimSpace(string(body)); b != "" {
		if len(b) > 200 {
			b = b[:200] + "..."
		}
		return s + ": " + b
	}
	return s
}

// getAPIJSON GETs u and decodes its 200 answer into v.
func getAPIJSON(ctx context.Context, client *http.Client, u, auth string, v any) error {
	status, body, err := apiGet(ctx, client, u, auth, true)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &apiStatusError{status: status, msg: fmt.Sprintf("GET %s: %s", u, describeAPIError(status, body))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// apiStatusError is an answer other than 200 where one was needed.
type apiStatusError struct {
	status int
	msg    string
}

func (e *apiStatusError) Error() string { return e.msg }

// newBenchAPIClient is the one client bench-api sends with: at most conns
// connections, all kept idle between requests, no proxy, no compression.
func newBenchAPIClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// apiSegment is a segment as GET /v1/segments lists it.
type apiSegment struct {
	Name string         `json:"name"`
	Size int            `json:"size"`
	Keys map[string]int `json:"keys"` // a family's ("interest:*") sizes per key ("interest:fashion")
}

// pageableSegments are the segments whose members can be listed, largest
// first: the plain ones, and each key of a family in place of the family
// (its own name, "interest:*", has no members page).
func pageableSegments(list []apiSegment) []apiSegment {
	var out []apiSegment
	for _, s := range list {
		if len(s.Keys) == 0 && !strings.HasSuffix(s.Name, "*") {
			out = append(out, apiSegment{Name: s.Name, Size: s.Size})
			continue
		}
		for k, n := range s.Keys {
			out = append(out, apiSegment{Name: k, Size: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// apiMembersPage is an answer of GET /v1/segments/{name}/members.
type apiMembersPage struct {
	Segment string `json:"segment"`
	Size    int    `json:"size"`
	Members []struct {
		UserID string `json:"user_id"`
	} `json:"members"`
	NextCursor string `json:"next_cursor"`
}

// membersURL is the URL of a members page of seg (the first when cursor is
// empty).
func membersURL(base, seg string, limit int, cursor string) string {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return base + "/v1/segments/" + url.PathEscape(seg) + "/members?" + q.Encode()
}

// collectUserIDs samples up to n distinct user ids: the members of the
// segments (a family's keys in its place), largest first, a page of 1000 at
// a time. A segment whose members the API refuses (4xx) is skipped with a
// note. It returns the ids in the order found and the largest segment that
// could be paged (zero if none).
func collectUserIDs(ctx context.Context, client *http.Client, base, auth string, n int, stderr *output) ([]string, apiSegment, string, error) {
	var list struct {
		SetVersion string       `json:"set_version"`
		Segments   []apiSegment `json:"segments"`
	}
	if err := getAPIJSON(ctx, client, base+"/v1/segments", auth, &list); err != nil {
		return nil, apiSegment{}, "", err
	}
	segs := pageableSegments(list.Segments)
	t0 := time.Now()
	seen := map[string]bool{}
	var ids []string
	var largest apiSegment
	pages := 0
segments:
	for _, s := range segs {
		if len(ids) >= n {
			break
		}
		cursor := ""
		for len(ids) < n {
			var p apiMembersPage
			if err := getAPIJSON(ctx, client, membersURL(base, s.Name, apiPageLimit, cursor), auth, &p); err != nil {
				var se *apiStatusError
				if errors.As(err, &se) && se.status/100 == 4 && se.status != http.StatusUnauthorized && se.status != http.StatusForbidden {
					stderr.printf("bench-api: skipping segment %s: %v\n", s.Name, err)
					continue segments
				}
				return nil, apiSegment{}, "", err
			}
			pages++
			if largest.Name == "" {
				largest = s
			}
			for _, m := range p.Members {
				if m.UserID != "" && !seen[m.UserID] && len(ids) < n {
					seen[m.UserID] = true
					ids = append(ids, m.UserID)
				}
			}
			if p.NextCursor == "" || p.NextCursor == cursor || len(p.Members) == 0 {
				break
			}
			cursor = p.NextCursor
		}
	}
	if len(ids) == 0 {
		return nil, apiSegment{}, "", fmt.Errorf("no user ids to load: the %d segments at %s/v1/segments (%d with their families' keys) have no members",
			len(list.Segments), base, len(segs))
	}
	if len(ids) < n {
		stderr.printf("bench-api: only %d distinct users in all %d segments (--users %d)\n", len(ids), len(segs), n)
	}
	stderr.printf("bench-api: sampled %d user ids from %d members pages of %d segments (set version %s) in %s\n",
		len(ids), pages, len(segs), list.SetVersion, time.Since(t0).Round(time.Millisecond))
	return ids, largest, list.SetVersion, nil
}

// apiPageResult is the measurement of sequential GETs of a segment's first
// members page.
type apiPageResult struct {
	Segment string `json:"segment"`
	Size    int    `json:"size"`    // the segment's size as the page gives it
	Members int    `json:"members"` // on the page
	URL     string `json:"url"`
	N       int    `json:"n"`
	OK      int    `json:"ok"`
	Errors  int    `json:"errors"`
	Non2xx  int    `json:"non_2xx"`
	latencySummary
}

// measureAPIPage GETs the first members page (limit 1000) of seg n times,
// one after the other, and times each from send to the end of its body.
func measureAPIPage(ctx context.Context, client *http.Client, base, auth string, seg apiSegment, n int) (apiPageResult, error) {
	u := membersURL(base, seg.Name, apiPageLimit, "")
	res := apiPageResult{Segment: seg.Name, Size: seg.Size, URL: u, N: n}
	lat := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		status, body, err := apiGet(ctx, client, u, auth, i == 0)
		el := time.Since(t0)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		switch {
		case err != nil:
			res.Errors++
			continue
		case status/100 != 2:
			res.Non2xx++
			continue
		}
		if i == 0 {
			var p apiMembersPage
			if json.Unmarshal(body, &p) == nil {
				res.Size, res.Members = p.Size, len(p.Members)
			}
		}
		res.OK++
		lat = append(lat, float64(el)/float64(time.Millisecond))
	}
	res.latencySummary = summarizeLatencies(lat)
	return res, nil
}

// formatRate writes a rate as given (1000, 2500.5), never with an exponent.
func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// fmtMillis writes milliseconds with 2 decimals, "-" when there was
// nothing to measure.
func fmtMillis(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// printBenchAPI prints the results table and what it was measured on.
func printBenchAPI(stdout *output, rep benchAPIReport, f benchAPIFlags) {
	stdout.printf("GET /v1/users/{id} at %s: open loop, %d sampled users, at most %d requests in flight, %s warm-up then %s measured per rate, client %s\n",
		rep.URL, rep.Users, rep.Conns, f.warmup, f.duration, f.client)
	stdout.printf("latency: from each request's intended send time (start + i/rate) to the end of its body, so queueing counts (coordinated omission corrected); 2xx only\n\n")
	row := "%8s  %10s  %8s  %8s  %8s  %8s  %8s  %6s  %7s  %6s  %9s  %9s\n"
	stdout.printf(row, "target/s", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "non-2xx", "unsent", "gen CPU s", "gen cores")
	for _, r := range rep.Rates {
		stdout.printf(row, formatRate(r.Target), strconv.FormatFloat(r.Achieved, 'f', 1, 64),
			fmtMillis(r.P50, r.OK), fmtMillis(r.P90, r.OK), fmtMillis(r.P99, r.OK), fmtMillis(r.P999, r.OK), fmtMillis(r.Max, r.OK),
			strconv.Itoa(r.Errors), strconv.Itoa(r.Non2xx), strconv.Itoa(r.Unsent),
			strconv.FormatFloat(r.GeneratorCPUS, 'f', 2, 64), strconv.FormatFloat(r.GeneratorCores, 'f', 2, 64))
	}
	stdout.printf("\nachieved/s: answers (any status) / time from the window's start to the last answer; errors: transport errors and timeouts (%s);\n", f.timeout)
	stdout.printf("unsent: due in the window but not sent by the cut-off; gen CPU s: the load generator's own user+system CPU (getrusage) while measuring, gen cores: per second\n")
	if p := rep.Page; p != nil {
		stdout.printf("\nmembers page: GET /v1/segments/%s/members?limit=%d (segment %s, size %d, %d members on the page), %d sequential: p50 %s ms  p99 %s ms  max %s ms  errors %d  non-2xx %d\n",
			url.PathEscape(p.Segment), apiPageLimit, p.Segment, p.Size, p.Members, p.N, fmtMillis(p.P50, p.OK), fmtMillis(p.P99, p.OK), fmtMillis(p.Max, p.OK), p.Errors, p.Non2xx)
	}
	stdout.printf("\nload generator: its own process, pid %d, on %d CPUs (runtime.NumCPU; GOMAXPROCS %d), against %s", rep.GeneratorPID, rep.NumCPU, rep.GOMAXPROCS, rep.URL)
	if rep.ServicePID != 0 {
		stdout.printf("\nservice: started by bench-api as pid %d (%s), sharing this machine's CPUs\n", rep.ServicePID, rep.ServiceCommand)
	} else {
		stdout.printf(" (a service bench-api did not start)\n")
	}
}

// apiService is the service bench-api starts without --url: `segstream
// demo --stay --api ADDR --http off`, in a process group of its own.
type apiService struct {
	cmd     *exec.Cmd
	command string // for people: the program's name and arguments
	url     string
	exited  chan struct{} // closed when it has exited; then waitErr is set
	waitErr error
	tail    *lineTail // its last stderr lines, for the error if it fails
}

// startAPIService starts the demo with its API on a free port and waits
// until it says its replay is done and it stays serving.
func startAPIService(ctx context.Context, f benchAPIFlags, stderr *output) (*apiService, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freeLocalPort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"demo", "--stay", "--api", addr, "--http", "off"}
	if f.redis != "" {
		args = append(args, "--redis", f.redis)
	}
	cmd := exec.Command(self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us only; we stop it
	// the demo's API has no token (it listens on loopback only); a --token
	// is sent and not checked
	// pipes as *os.File: Wait does not wait for them, so an exit is seen
	// even if something the child started still holds them open
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		_, _ = outR.Close(), outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	_, _ = outW.Close(), errW.Close() // the child has its copies
	if err != nil {
		_, _ = outR.Close(), errR.Close()
		return nil, fmt.Errorf("starting the service: %w", err)
	}
	s := &apiService{cmd: cmd, command: "segstream " + strings.Join(args, " "), url: "http://" + addr,
		exited: make(chan struct{}), tail: &lineTail{max: 20}}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	go func() {
		r := bufio.NewReader(errR)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				s.tail.add(line)
				if f.verbose {
					stderr.printf("service: %s\n", strings.TrimRight(line, "\r\n"))
				}
			}
			if err != nil {
				_ = errR.Close()
				return
			}
		}
	}()
	ready := make(chan struct{})
	go func() {
		r := bufio.NewReader(outR)
		isReady := false
		for {
			line, err := r.ReadString('\n')
			if l := strings.TrimSpace(line); l != "" {
				switch {
				case strings.Contains(l, "replay"):
					stderr.printf("bench-api: service: %s\n", l)
				case f.verbose:
					stderr.printf("service: %s\n", l)
				}
				if !isReady && strings.Contains(l, "--stay: still serving") {
					isReady = true
					close(ready)
				}
			}
			if err != nil {
				_ = outR.Close()
				return
			}
		}
	}()
	stderr.printf("bench-api: started the service, pid %d: %s; waiting for its replay to finish (up to %s)\n", cmd.Process.Pid, s.command, f.setupTimeout)

	t0 := time.Now()
	timeout := time.NewTimer(f.setupTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ready:
			stderr.printf("bench-api: the service is ready after %s at %s\n", time.Since(t0).Round(time.Second), s.url)
			return s, nil
		case <-s.exited:
			s.stop(stderr) // what it started may still run in its group
			return nil, fmt.Errorf("the service (pid %d) ended before it was ready: %w%s", cmd.Process.Pid, s.waitErr, s.tail.text())
		case <-timeout.C:
			s.stop(stderr)
			return nil, fmt.Errorf("the service (pid %d) was not ready within --setup-timeout %s%s", cmd.Process.Pid, f.setupTimeout, s.tail.text())
		case <-ctx.Done():
			s.stop(stderr)
			return nil, ctx.Err()
		case <-tick.C:
			stderr.printf("bench-api: still waiting for the service (%s)\n", time.Since(t0).Round(time.Second))
		}
	}
}

// stop ends the service's process group: SIGTERM, then SIGKILL after 10 s
// (and for anything of the group still left), and waits for its exit.
func (s *apiService) stop(stderr *output) {
	pg := s.cmd.Process.Pid // the group's id: it leads its own
	_ = syscall.Kill(-pg, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		stderr.printf("bench-api: the service (pid %d) did not stop within 10 s of SIGTERM; killing it\n", pg)
	}
	_ = syscall.Kill(-pg, syscall.SIGKILL) // ESRCH once the whole group is gone
	<-s.exited
}

// freeLocalPort is a TCP port on 127.0.0.1 that was free a moment ago.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// lineTail keeps the last max lines written to it.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, strings.TrimRight(line, "\r\n"))
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// text is the lines kept, as the end of an error message ("" if none).
func (t *lineTail) text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "; its last stderr lines:\n    " + strings.Join(t.lines, "\n    ")
}
