package keyspace

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// Script is one Lua script of scripts/, called by SHA (EvalSha in
// pipelines) or with Run (EVALSHA, then EVAL when the server lacks it).
type Script struct {
	Name string
	*redis.Script
}

var registry = map[string]*Script{}

func mustScript(name string) *Script {
	src, err := scriptFiles.ReadFile(path.Join("scripts", name+".lua"))
	if err != nil {
		panic(fmt.Sprintf("keyspace: script %s: %v", name, err))
	}
	s := &Script{Name: name, Script: redis.NewScript(string(src))}
	registry[name] = s
	return s
}

// The scripts (see each file under scripts/ for its keys and arguments).
var (
	ProfileCAS    = mustScript("profile_cas")
	ClaimScript   = mustScript("claim")
	MoveScript    = mustScript("move")
	LabelCAS      = mustScript("label_cas")
	LabelState    = mustScript("label_state")
	MarkPublished = mustScript("mark_published")
	OutboxDone    = mustScript("outbox_done")
	Unlock        = mustScript("unlock")
	Extend        = mustScript("extend")
	MembersPage   = mustScript("members_page")
)

// Scripts lists every script, by name.
func Scripts() []*Script {
	out := make([]*Script, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LoadScripts loads every script (on a cluster client: on every master).
func LoadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, s := range Scripts() {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return fmt.Errorf("keyspace: loading script %s: %w", s.Name, err)
		}
	}
	return nil
}

// IsNoScript tells whether err is Redis's NOSCRIPT: a script called by SHA
// that the server has not loaded (after a restart, a failover, or SCRIPT
// FLUSH).
func IsNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }

// Recover is the one NOSCRIPT path: when err is NOSCRIPT it loads every
// script again and reports true, and the caller retries the work that
// failed (whatever of it ran is guarded by compare-and-set, so a retry is
// safe). Any other err reports false. A failed reload is returned.
func Recover(ctx context.Context, rdb redis.Scripter, err error) (bool, error) {
	if !IsNoScript(err) {
		return false, nil
	}
	if lerr := LoadScripts(ctx, rdb); lerr != nil {
		return true, lerr
	}
	return true, nil
}
