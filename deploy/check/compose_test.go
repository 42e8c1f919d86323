package check

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

var composeDir = repoPath("deploy", "compose")

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(composeDir, "compose.yaml")},
		cli.WithWorkingDirectory(composeDir), cli.WithEnv(nil), cli.WithName("segstream"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"kafka", "redis", "segstream", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	// Bind mounts name files that exist.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && !fileExists(v.Source) {
				t.Errorf("%s: bind mount %s does not exist", s.Name, v.Source)
			}
		}
	}
	seg := p.Services["segstream"]
	if seg.Build == nil || seg.Build.Context != repo || seg.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("segstream build %+v: want the repository root with deploy/Dockerfile", seg.Build)
	}
	// Kafka: one KRaft node, broker and controller.
	k := p.Services["kafka"]
	if !strings.HasPrefix(k.Image, "apache/kafka:") {
		t.Errorf("kafka image %s", k.Image)
	}
	kenv := map[string]string{}
	for key, v := range k.Environment {
		if v != nil {
			kenv[key] = *v
		}
	}
	if kenv["KAFKA_PROCESS_ROLES"] != "broker,controller" || kenv["KAFKA_CONTROLLER_QUORUM_VOTERS"] != "1@kafka:9093" {
		t.Errorf("kafka is not a single KRaft broker+controller: %v", kenv)
	}
	// segstream's config: its own loader accepts it, it names the compose services,
	// and its ports are the published ones and Prometheus's target.
	var cfgMount string
	for _, v := range seg.Volumes {
		if v.Target == "/etc/segstream/segstream.yaml" {
			cfgMount = v.Source
		}
	}
	if cfgMount != filepath.Join(composeDir, "segstream.yaml") {
		t.Fatalf("segstream config mount %q", cfgMount)
	}
	cfg := readFile(t, "deploy", "compose", "segstream.yaml")
	checkKeys(t, cfg)
	var env []string
	for key, v := range seg.Environment {
		if v == nil {
			t.Errorf("segstream env %s has no value", key)
			continue
		}
		env = append(env, key+"="+*v)
		if strings.Contains(key, "TOKENS") && len(*v) < 16 {
			t.Errorf("%s default shorter than 16 characters", key)
		}
	}
	checkConfig(t, cfg, env, repoPath("deploy", "segments", "taxonomy.yaml"))
	var c map[string]any
	if err := yaml.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if b, _ := lookup(c, "kafka.brokers"); fmt.Sprint(b) != "[kafka:9092]" {
		t.Errorf("kafka.brokers %v, want [kafka:9092]", b)
	}
	if r, _ := lookup(c, "redis.addrs"); fmt.Sprint(r) != "[redis:6379]" {
		t.Errorf("redis.addrs %v, want [redis:6379]", r)
	}
	published := map[string]bool{}
	for _, pc := range seg.Ports {
		published[strconv.Itoa(int(pc.Target))] = true
	}
	metricsPort := ""
	for _, key := range []string{"http.listen", "api.listen"} {
		v, _ := lookup(c, key)
		port := strings.TrimPrefix(fmt.Sprint(v), ":")
		if !published[port] {
			t.Errorf("%s %v is not published", key, v)
		}
		if key == "http.listen" {
			metricsPort = port
		}
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := decodeStrictYAML(readFile(t, "deploy", "compose", "prometheus.yml"), &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	scraped := false
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			scraped = scraped || (slices.Contains(st.Targets, "segstream:"+metricsPort) && (sc.MetricsPath == "" || sc.MetricsPath == "/metrics"))
		}
	}
	if !scraped {
		t.Errorf("prometheus.yml does not scrape segstream:%s/metrics", metricsPort)
	}
}

// decodeStrictYAML decodes only the fields the struct names, refusing others
// at the levels it describes.
func decodeStrictYAML(b []byte, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(false)
	return dec.Decode(v)
}

// The compose file passes `docker compose config` where the compose plugin
// exists (tools/deploy/check.sh runs it); compose-go above is the same loader.

type grafanaPanel struct {
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	Targets    []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

func TestGrafana(t *testing.T) {
	var dash struct {
		UID        string         `json:"uid"`
		Title      string         `json:"title"`
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(readFile(t, "deploy", "grafana", "segstream.json"), &dash); err != nil {
		t.Fatal(err)
	}
	dsVar := false
	for _, v := range dash.Templating.List {
		dsVar = dsVar || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !dsVar {
		t.Error("no datasource variable of type prometheus")
	}
	// The provisioned datasource is Prometheus at the compose service.
	var ds struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "datasources", "prometheus.yaml"), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("provisioned datasources %+v", ds.Datasources)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "dashboards", "segstream.yaml"), &prov); err != nil {
		t.Fatal(err)
	}
	mounted := false
	for _, v := range loadCompose(t).Services["grafana"].Volumes {
		mounted = mounted || (v.Source == repoPath("deploy", "grafana", "segstream.json") && len(prov.Providers) == 1 &&
			filepath.Dir(v.Target) == prov.Providers[0].Options.Path)
	}
	if !mounted {
		t.Error("the dashboard is not mounted where the dashboard provider reads")
	}

	metrics := goMetricStrings(t)
	titles := ""
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			titles += strings.ToLower(p.Title) + "\n"
			if p.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names, err := promMetricNames(tg.Expr)
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
					continue
				}
				if len(names) == 0 {
					t.Errorf("panel %q: %s selects no metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					if !metrics.has(n) {
						t.Errorf("panel %q: metric %s is not registered anywhere in the service's Go sources", p.Title, n)
					}
				}
			}
		}
	}
	walk(dash.Panels)
	for _, want := range []string{"consumer lag", "event-to-label latency p50 / p99", "segment sizes", "dead letters by reason"} {
		if !strings.Contains(titles, want) {
			t.Errorf("no panel %q", want)
		}
	}
}

// promMetricNames parses a PromQL expression (Grafana's $__ variables
// replaced by durations) and returns the metric names it selects.
func promMetricNames(expr string) ([]string, error) {
	e := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h").Replace(expr)
	node, err := promparser.NewParser(promparser.Options{}).ParseExpr(e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", expr, err)
	}
	var names []string
	promparser.Inspect(node, func(n promparser.Node, _ []promparser.Node) error {
		if vs, ok := n.(*promparser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, nil
}

// metricSource answers whether a metric name is registered by the Go
// sources: either the whole name is a string literal, or (prometheus'
// Namespace/Subsystem/Name) one file holds "segstream", the subsystem and
// the rest of the name as literals. A name with _bucket, _sum or _count
// needs its last literal inside a HistogramOpts.
type metricSource struct{ files []map[string]litInfo }

type litInfo struct{ seen, inHistogram bool }

func (m metricSource) has(name string) bool {
	if m.registered(name, false) {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && m.registered(base, true) {
			return true
		}
	}
	return false
}

func (m metricSource) registered(name string, histogram bool) bool {
	ok := func(l litInfo) bool { return l.seen && (!histogram || l.inHistogram) }
	for _, lits := range m.files {
		if ok(lits[name]) {
			return true
		}
		rest, found := strings.CutPrefix(name, "segstream_")
		if !found || !lits["segstream"].seen {
			continue
		}
		if ok(lits[rest]) {
			return true
		}
		for i := range len(rest) {
			if rest[i] == '_' && lits[rest[:i]].seen && ok(lits[rest[i+1:]]) {
				return true
			}
		}
	}
	return false
}

var (
	metricsOnce sync.Once
	metricsVal  metricSource
	metricsErr  error
)

// goMetricStrings reads the string literals of every non-test Go file of the
// main module that mentions prometheus.
func goMetricStrings(t *testing.T) metricSource {
	t.Helper()
	metricsOnce.Do(func() {
		fset := token.NewFileSet()
		metricsErr = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repo, p)
			if d.IsDir() {
				if rel == "var" || rel == ".git" || rel == "deploy/check" || rel == "testdata" || d.Name() == "node_modules" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !strings.Contains(string(src), "prometheus") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, src, 0)
			if err != nil {
				return err
			}
			lits := map[string]litInfo{}
			var stack []ast.Node
			ast.Inspect(f, func(n ast.Node) bool {
				if n == nil {
					stack = stack[:len(stack)-1]
					return false
				}
				stack = append(stack, n)
				if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
					s, err := strconv.Unquote(bl.Value)
					if err != nil {
						return true
					}
					l := lits[s]
					l.seen = true
					for _, a := range stack {
						if cl, ok := a.(*ast.CompositeLit); ok {
							if se, ok := cl.Type.(*ast.SelectorExpr); ok && se.Sel.Name == "HistogramOpts" {
								l.inHistogram = true
							}
						}
					}
					lits[s] = l
				}
				return true
			})
			metricsVal.files = append(metricsVal.files, lits)
			return nil
		})
	})
	if metricsErr != nil {
		t.Fatal(metricsErr)
	}
	if len(metricsVal.files) < 3 {
		t.Fatalf("only %d Go files with metrics found", len(metricsVal.files))
	}
	return metricsVal
}

// The metric check itself: names that are registered pass, others do not.
func TestMetricSource(t *testing.T) {
	m := goMetricStrings(t)
	for _, n := range []string{"segstream_consumer_lag", "segstream_labels_event_to_label_seconds_bucket", "segstream_labels_changes_total",
		"segstream_consumer_dlq_events_total", "segstream_api_requests_total", "segstream_segments_definitions"} {
		if !m.has(n) {
			t.Errorf("%s not found", n)
		}
	}
	for _, n := range []string{"segstream_consumer_lag_bucket", "segstream_segment_size", "segstream_labels_latency_seconds", "up"} {
		if m.has(n) {
			t.Errorf("%s found", n)
		}
	}
}
