// Package cli implements the segstream subcommands; cmd/segstream only
// calls Main. Every subcommand parses its own flags, builds what it needs
// from the pipeline, featurestore and replay packages, and returns an exit
// code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/segstream/segstream/replay"
)

// runFunc runs a subcommand. It prints its result on stdout and its
// progress and diagnostics on stderr; Main checks stdout's write errors.
type runFunc func(ctx context.Context, args []string, stdout, stderr *output) error

type command struct {
	summary string
	run     runFunc
}

var commands = map[string]command{}

func register(name, summary string, run runFunc) {
	commands[name] = command{summary: summary, run: run}
}

// errUsage marks a usage error (exit code 2); the flag set printed help.
var errUsage = errors.New("usage")

// Main runs one subcommand and returns the process exit code.
//
// A write to stdout that failed (a full disk, a closed terminal) fails a
// command that otherwise succeeded: its result is incomplete. Write errors
// on stderr are not checked: it carries the diagnostics and the error
// itself, and when it fails there is nowhere left to report that.
func Main(args []string, stdoutW, stderrW io.Writer) int {
	stdout, stderr := newOutput(stdoutW), newOutput(stderrW)
	if len(args) < 1 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) < 1 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		stderr.printf("segstream: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil {
		err = stdout.Err()
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		stderr.printf("segstream %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w *output) {
	w.println("segstream: real-time customer segmentation\n\nUsage: segstream COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w.printf("  %-8s %s\n", n, commands[n].summary)
	}
	w.println("\nRun 'segstream COMMAND -h' for a command's flags.")
}

func newFlags(name, synopsis string, stderr *output) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		stderr.printf("Usage: segstream %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func thousands(n int) string { return replay.Thousands(n) }

// stoppedEarly is the error of a command whose consumer or service (its Run
// returned err) ended while the command still waited on it. A nil err, a
// clean stop, is still too early there.
func stoppedEarly(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%s without an error", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
