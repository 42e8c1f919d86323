package check

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// repo is the repository root (deploy/check is two levels below it).
var repo = func() string {
	p, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return p
}()

func repoPath(parts ...string) string { return filepath.Join(append([]string{repo}, parts...)...) }

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// helmBin is $HELM, else var/bin/helm, else helm on PATH.
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	if p := repoPath("var", "bin", "helm"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("helm")
	if err != nil {
		t.Fatal("no helm: set HELM, or run tools/deploy/check.sh (it installs the pinned helm into var/bin)")
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// run runs a command and returns its stdout; stderr goes into the error.
func run(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, errb.String(), out.String())
	}
	return out.Bytes(), nil
}

// cleanEnv is this process's environment without SEGSTREAM_* variables,
// so that a developer's shell does not change what the loader sees.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEGSTREAM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

var (
	segstreamOnce sync.Once
	segstreamPath string
	segstreamErr  error
)

// TestMain removes the service binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if segstreamPath != "" {
		_ = os.RemoveAll(filepath.Dir(segstreamPath))
	}
	os.Exit(code)
}

// segstreamBinary builds the service from the main module once per test
// process (CGO as in the Makefile; the build cache makes repeats quick).
func segstreamBinary(t *testing.T) string {
	t.Helper()
	segstreamOnce.Do(func() {
		dir, err := os.MkdirTemp("", "segstream-deploy-check-")
		if err != nil {
			segstreamErr = err
			return
		}
		segstreamPath = filepath.Join(dir, "segstream")
		goBin := "go"
		if g := os.Getenv("GO"); g != "" {
			goBin = g
		}
		_, segstreamErr = run(repo, cleanEnv("CGO_ENABLED=1"), goBin, "build", "-o", segstreamPath, "./cmd/segstream")
	})
	if segstreamErr != nil {
		t.Fatalf("building the service: %v", segstreamErr)
	}
	return segstreamPath
}

var (
	envOnce  sync.Once
	envKeys  map[string]string // YAML path -> environment variable
	envPaths map[string]bool
	envErr   error
)

// serviceKeys is what `segstream run --help-env` lists: every option's
// YAML path (the service's own walk of its Config type) and its variable.
func serviceKeys(t *testing.T) (paths map[string]bool, vars map[string]string) {
	t.Helper()
	bin := segstreamBinary(t)
	envOnce.Do(func() {
		out, err := run(repo, cleanEnv(), bin, "run", "--help-env")
		if err != nil {
			envErr = err
			return
		}
		envKeys, envPaths = map[string]string{}, map[string]bool{}
		re := regexp.MustCompile(`^(SEGSTREAM_[A-Z0-9_]+)\s+\(([a-z0-9_.]+)\)$`)
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			m := re.FindStringSubmatch(strings.TrimSpace(l))
			if m == nil {
				envErr = fmt.Errorf("unexpected --help-env line %q", l)
				return
			}
			envKeys[m[2]] = m[1]
			envPaths[m[2]] = true
		}
		if len(envPaths) < 50 {
			envErr = fmt.Errorf("--help-env listed only %d options", len(envPaths))
		}
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envPaths, envKeys
}

// leafPaths lists the dotted key paths of a YAML mapping's leaves (a list
// is a leaf: the service's lists, addrs, routes, tokens, are single options).
func leafPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(n.Content[i+1], k)
			}
		default:
			if prefix != "" {
				out = append(out, prefix)
			}
		}
	}
	walk(&root, "")
	sort.Strings(out)
	return out
}

// lookup follows a dotted path in a decoded YAML map.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}
