package service_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/segstream/segstream/internal/testkit"
	"github.com/segstream/segstream/service"
)

// The dashboard in a real browser (Debian's chromium driven by
// playwright-core, tools/ui-test/dashboard.test.mjs) against the service
// after a replay: every page loads without console errors, the numbers
// shown equal the API's, the editor refuses a bad rule with the API's
// message and shows a preview count, at 1280 and 390 px wide.
// SEGSTREAM_SCREENSHOTS=DIR keeps the screenshots (docs/dashboard holds
// the committed ones).
func TestDashboardInBrowser(t *testing.T) {
	testkit.NeedModels(t)
	modules := service.RepoFile("var/ui-test/node_modules")
	for _, p := range []string{"/usr/bin/chromium", filepath.Join(modules, "playwright-core")} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: run tools/ui-test/setup.sh (make test does)", p)
			}
			t.Skipf("%s missing: run tools/ui-test/setup.sh", p)
		}
	}
	addr := testkit.Kafka(t, 3)
	_, prefix := testkit.Redis(t)
	s, _, _ := apiAfterReplay(t, addr, prefix, "dashboard", "SEGSTREAM_HTTP_LISTEN=127.0.0.1:0")
	time.Sleep(500 * time.Millisecond) // a size sample after the last change
	out := os.Getenv("SEGSTREAM_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	} else if out, _ = filepath.Abs(out); os.MkdirAll(out, 0o755) != nil {
		t.Fatalf("SEGSTREAM_SCREENSHOTS=%s: cannot create it", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", service.RepoFile("tools/ui-test/dashboard.test.mjs"))
	cmd.Env = append(os.Environ(), "BASE=http://"+s.APIAddr(), "TOKEN="+adminToken, "OUT="+out, "UI_MODULES="+modules)
	b, err := cmd.CombinedOutput()
	t.Logf("dashboard.test.mjs:\n%s", b)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
}
