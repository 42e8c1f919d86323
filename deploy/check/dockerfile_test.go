package check

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"gopkg.in/yaml.v3"
)

// image is what deploy/Dockerfile says about the runtime image.
type image struct {
	stages     []instructions.Stage
	metaArgs   map[string]string
	uid        int64
	entrypoint []string
	expose     []string
	workdir    string
	env        map[string]string
	copies     []*instructions.CopyCommand // of the final stage
	warnings   []string                    // BuildKit's lint rules
}

// copied is the destination of the final stage's COPY whose source ends in
// suffix ("" if none).
func (img *image) copied(suffix string) string {
	for _, c := range img.copies {
		for _, s := range c.SourcePaths {
			if strings.HasSuffix(strings.TrimSuffix(s, "/"), suffix) {
				return strings.TrimSuffix(c.DestPath, "/")
			}
		}
	}
	return ""
}

// has reports whether the runtime image has path p (absolute): a COPY
// destination, or a file under a copied folder whose source is in the
// repository (COPY /src/models/ brings every file of models/).
func (img *image) has(p string) bool {
	for _, c := range img.copies {
		dest := strings.TrimSuffix(c.DestPath, "/")
		for _, src := range c.SourcePaths {
			if p == dest {
				return true
			}
			if rel, err := filepath.Rel(dest, p); err == nil && !strings.HasPrefix(rel, "..") {
				if repo, ok := strings.CutPrefix(strings.TrimSuffix(src, "/"), "/src/"); ok && fileExists(repoPath(repo, rel)) {
					return true
				}
			}
		}
	}
	return false
}

var (
	imageOnce sync.Once
	imageVal  *image
	imageErr  error
)

func dockerImage(t *testing.T) *image {
	t.Helper()
	imageOnce.Do(func() { imageVal, imageErr = parseDockerfile(readFileErr(repoPath("deploy", "Dockerfile"))) })
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageVal
}

func readFileErr(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return b
}

func parseDockerfile(b []byte) (*image, error) {
	if b == nil {
		return nil, fmt.Errorf("deploy/Dockerfile: cannot read")
	}
	res, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	img := &image{metaArgs: map[string]string{}, env: map[string]string{}}
	for _, w := range res.Warnings {
		img.warnings = append(img.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		img.warnings = append(img.warnings, fmt.Sprintf("%s: %s (line %v)", rule, msg, loc))
	}})
	stages, meta, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	img.stages = stages
	for _, a := range meta {
		for _, kv := range a.Args {
			if kv.Value != nil {
				img.metaArgs[kv.Key] = *kv.Value
			}
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no stage")
	}
	final := stages[len(stages)-1]
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			u, _, _ := strings.Cut(c.User, ":")
			img.uid, err = strconv.ParseInt(u, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("USER %s: not a numeric uid (Kubernetes runAsNonRoot can only verify a numeric one)", c.User)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				return nil, fmt.Errorf("ENTRYPOINT in shell form: SIGTERM would go to the shell, not segstream")
			}
			img.entrypoint = c.CmdLine
		case *instructions.ExposeCommand:
			img.expose = append(img.expose, c.Ports...)
		case *instructions.WorkdirCommand:
			img.workdir = c.Path
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				img.env[kv.Key] = kv.Value
			}
		case *instructions.CopyCommand:
			img.copies = append(img.copies, c)
		}
	}
	return img, nil
}

// expandArgs substitutes ${NAME} and $NAME with the global ARG defaults.
func (img *image) expandArgs(s string) string {
	return regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`).ReplaceAllStringFunc(s, func(m string) string {
		k := strings.Trim(m, "${}")
		if v, ok := img.metaArgs[k]; ok {
			return v
		}
		return m
	})
}

func runLines(st instructions.Stage) []string {
	var out []string
	for _, c := range st.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			out = append(out, strings.Join(r.CmdLine, " "))
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	img := dockerImage(t)
	if len(img.warnings) > 0 {
		t.Errorf("BuildKit lint warnings:\n%s", strings.Join(img.warnings, "\n"))
	}
	if len(img.stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a runtime stage", len(img.stages))
	}
	build, final := img.stages[0], img.stages[len(img.stages)-1]
	if b := img.expandArgs(build.BaseName); !regexp.MustCompile(`^golang:[0-9.]+-bookworm$`).MatchString(b) {
		t.Errorf("build stage FROM %s: want golang:<version>-bookworm", b)
	}
	if b := img.expandArgs(final.BaseName); b != "debian:bookworm-slim" {
		t.Errorf("runtime stage FROM %s by default: want debian:bookworm-slim", b)
	}
	// The Go version of the build image is the one go.mod asks for.
	if gv := img.metaArgs["GO_VERSION"]; !bytes.Contains(readFile(t, "go.mod"), []byte("\ngo "+gv+"\n")) {
		t.Errorf("ARG GO_VERSION=%s is not go.mod's go version", gv)
	}

	// Build stage: cgo on, the binary built, the encoder set up.
	cgo := false
	for _, c := range build.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				cgo = cgo || (kv.Key == "CGO_ENABLED" && kv.Value == "1")
			}
		}
	}
	if !cgo {
		t.Error("build stage: no ENV CGO_ENABLED=1 (onnxruntime_go needs cgo)")
	}
	runs := strings.Join(runLines(build), "\n")
	goOut := regexp.MustCompile(`go build .*-o (\S+) \./cmd/segstream`).FindStringSubmatch(runs)
	if goOut == nil {
		t.Fatal("build stage: no `go build -o OUT ./cmd/segstream`")
	}
	setup := regexp.MustCompile(`SEGSTREAM_VAR=(\S+) tools/encoder/setup\.sh`).FindStringSubmatch(runs)
	if setup == nil {
		t.Fatal("build stage: tools/encoder/setup.sh is not run (with SEGSTREAM_VAR)")
	}
	varDir := setup[1]
	// setup.sh's optional downloads that the image does not ship stay off:
	// --no-bert, or --bert= naming the BERT-family models it ships (each
	// must then be copied into the runtime stage, checked below).
	var bertModels []string
	if script := string(readFile(t, "tools", "encoder", "setup.sh")); strings.Contains(script, "--no-bert)") {
		for _, l := range regexp.MustCompile(`tools/encoder/setup\.sh[^;\n]*`).FindAllString(runs, -1) {
			m := regexp.MustCompile(`--bert=(\S+)`).FindStringSubmatch(l)
			switch {
			case m != nil && strings.Contains(script, "--bert=*)"):
				bertModels = append(bertModels, strings.Split(m[1], ",")...)
			case !strings.Contains(l, "--no-bert"):
				t.Errorf("build stage runs %q without --no-bert or --bert=MODELS", l)
			}
		}
	}

	// Runtime stage.
	if img.uid <= 0 {
		t.Errorf("USER uid %d: want a non-root numeric uid", img.uid)
	}
	if !regexp.MustCompile(fmt.Sprintf(`useradd .*--uid %d\b`, img.uid)).MatchString(strings.Join(runLines(final), "\n")) {
		t.Errorf("no user with uid %d is created", img.uid)
	}
	want := []string{"segstream", "run", "--config", "/etc/segstream/segstream.yaml"}
	if !slices.Equal(img.entrypoint, want) {
		t.Errorf("ENTRYPOINT %q, want %q", img.entrypoint, want)
	}
	from := map[string]string{} // source -> destination, COPY --from=build only
	for _, c := range img.copies {
		if c.From != build.Name {
			t.Errorf("COPY %v: not from the build stage %q", c.SourcePaths, build.Name)
		}
		for _, s := range c.SourcePaths {
			from[strings.TrimSuffix(s, "/")] = strings.TrimSuffix(c.DestPath, "/")
		}
	}
	if d := from[goOut[1]]; d != "/usr/local/bin/segstream" {
		t.Errorf("the binary %s is copied to %q, want /usr/local/bin/segstream (ENTRYPOINT runs segstream from PATH)", goOut[1], d)
	}
	lib := from[varDir+"/lib/libonnxruntime.so.1"]
	model := from[varDir+"/models/use-lite"]
	if lib == "" || model == "" {
		t.Fatalf("ONNX Runtime (%s/lib/libonnxruntime.so.1) or the model (%s/models/use-lite) is not copied: %v", varDir, varDir, from)
	}
	if from[varDir+"/lib/gpu"] == "" {
		t.Error("the GPU library folder is not copied (ORT_GPU=1 builds)")
	}
	if img.env["SEGSTREAM_ORT_LIB"] != lib {
		t.Errorf("ENV SEGSTREAM_ORT_LIB=%q, the library is at %s", img.env["SEGSTREAM_ORT_LIB"], lib)
	}
	if from["/src/deploy/segstream.yaml"] != "/etc/segstream/segstream.yaml" {
		t.Error("deploy/segstream.yaml is not the image's default config")
	}
	// deploy/segstream.yaml's relative paths resolve from WORKDIR to what was copied.
	var def map[string]any
	if err := yaml.Unmarshal(readFile(t, "deploy", "segstream.yaml"), &def); err != nil {
		t.Fatal(err)
	}
	// every file or folder the default config names is in the image: a
	// copied destination, or under a copied folder whose source is in the
	// repository (COPY /src/models/ brings every file of models/)
	inImage := img.has
	paths := map[string]string{}
	for _, key := range []string{"encoder.model_dir", "encoder.library_path", "model.path"} {
		v, _ := lookup(def, key)
		p, _ := v.(string)
		paths[key] = p
	}
	if v, ok := lookup(def, "model.theme_files"); ok {
		for i, f := range v.([]any) {
			paths[fmt.Sprintf("model.theme_files[%d]", i)] = fmt.Sprint(f)
		}
	}
	if v, ok := lookup(def, "sentiment.models"); ok {
		for i, m := range v.([]any) {
			paths[fmt.Sprintf("sentiment.models[%d].file", i)] = fmt.Sprint(m.(map[string]any)["file"])
		}
	}
	if v, ok := lookup(def, "encoder.models"); ok {
		for i, m := range v.([]any) {
			paths[fmt.Sprintf("encoder.models[%d].model_dir", i)] = fmt.Sprint(m.(map[string]any)["model_dir"])
		}
	}
	for key, p := range paths {
		if p == "" || !inImage(filepath.Join(img.workdir, p)) {
			t.Errorf("%s: %q from WORKDIR %s is not in the image (copied: %v)", key, p, img.workdir, from)
		}
	}
	for _, name := range bertModels {
		if !inImage(filepath.Join(img.workdir, "var/models", name)) || from[varDir+"/models/"+name] == "" {
			t.Errorf("setup.sh --bert=%s: the model is not copied from %s/models/%s", name, varDir, name)
		}
	}
	// EXPOSE covers the default listen ports.
	for _, key := range []string{"http.listen", "api.listen"} {
		v, _ := lookup(def, key)
		port := strings.TrimPrefix(fmt.Sprint(v), ":")
		if !slices.Contains(img.expose, port) {
			t.Errorf("%s %v: port not EXPOSEd (%v)", key, v, img.expose)
		}
	}
}

// .dockerignore (at the context root) keeps build outputs out and leaves in
// everything the build reads.
func TestDockerignore(t *testing.T) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(p string) bool {
		m, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, p := range []string{"var/lib/libonnxruntime.so.1", "var/cache/npm/x.tgz", "bin/segstream", "api.test", "service/service.test",
		"tools/ui-test/node_modules/x/index.js", ".git/HEAD", "deploy/check/go.mod", "cpu.prof"} {
		if !excluded(p) {
			t.Errorf("%s is sent to the build", p)
		}
	}
	// Every source the build can read (Go, embedded files, the encoder set-up) stays in.
	skip := map[string]bool{".git": true, "var": true, "bin": true, "node_modules": true, "deploy/check": true, "deploy/helm": true,
		"deploy/compose": true, "deploy/grafana": true}
	n := 0
	err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		if d.IsDir() {
			if skip[rel] || skip[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(rel) {
		case ".go", ".mod", ".sum", ".yaml", ".yml", ".json", ".lua", ".html", ".js", ".css", ".py", ".sh", ".txt":
			n++
			if excluded(rel) {
				t.Errorf("%s is kept out of the build context", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Errorf("only %d source files seen", n)
	}
}
