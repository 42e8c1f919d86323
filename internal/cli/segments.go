package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segstream/segstream/api"
	"github.com/segstream/segstream/classifier"
	"github.com/segstream/segstream/segments"
	"github.com/segstream/segstream/service"
)

func init() {
	register("segments", "segment definitions: check | preview | apply | delete | list | vars", cmdSegments)
}

const segmentsUsage = `Usage: segstream segments SUBCOMMAND [flags] [args]

  check FILE...     compile and type-check definition files (exit 1 on any error)
  preview FILE      size, share of profiles and sample members over the profiles in Redis now (nothing is written)
  apply FILE...     check, then publish the definitions to segments.topic (every instance follows it)
  delete NAME...    publish tombstones: the segments are removed on every instance (members get exits)
  list              the definitions in force (segments.dir or the built-in taxonomy, then the topic), with sizes
  vars              the variables and functions definitions may use

Definitions in FILE may use segment("x") of any segment of the base
(segments.dir, or the built-in taxonomy).
`

func cmdSegments(ctx context.Context, args []string, stdout, stderr *output) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		stderr.printf("%s", segmentsUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "check":
		return segmentsCheck(args, stdout, stderr)
	case "preview":
		return segmentsPreview(ctx, args, stdout, stderr)
	case "apply":
		return segmentsApply(ctx, args, stdout, stderr, false)
	case "delete":
		return segmentsApply(ctx, args, stdout, stderr, true)
	case "list":
		return segmentsList(ctx, args, stdout, stderr)
	case "vars":
		for _, v := range segments.Vars {
			stdout.printf("%-26s %-24s %s\n%-26s %-24s e.g. %s\n", v.Name, v.Type, v.Doc, "", "", v.Example)
		}
		stdout.printf("\n")
		for _, f := range segments.Funcs {
			stdout.printf("%s\n    %s; e.g. %s\n", f.Signature, f.Doc, f.Example)
		}
		return nil
	}
	stderr.printf("segstream segments: unknown subcommand %q\n\n%s", sub, segmentsUsage)
	return errUsage
}

// readFiles parses definition files; parse errors are printed.
func readFiles(files []string, stderr *output) ([]segments.Definition, int) {
	var defs []segments.Definition
	bad := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			stderr.printf("%s: %v\n", f, err)
			bad++
			continue
		}
		ds, err := segments.ParseFile(b, f)
		for _, e := range segments.AsErrors(err) {
			stderr.printf("%s\n", e)
			bad++
		}
		defs = append(defs, ds...)
	}
	return defs, bad
}

func baseFor(cfg service.Config) ([]segments.Definition, segments.Options, error) {
	base, err := cfg.Segments.Base()
	return base, segments.Options{RetentionDays: cfg.Featurestore.Limits.RetentionDays, MaxCost: cfg.Segments.MaxCost}, err
}

// checkFiles reads definition files and compiles them over the base of
// cfg; every refusal is printed on stderr and counted in the error.
func checkFiles(cfg service.Config, files []string, stderr *output) (*segments.Set, []segments.Definition, segments.Options, error) {
	base, opt, err := baseFor(cfg)
	if err != nil {
		return nil, nil, opt, err
	}
	defs, bad := readFiles(files, stderr)
	set, errs := segments.Overlay(base, defs, opt)
	for _, e := range errs {
		stderr.printf("%s\n", e)
	}
	if n := bad + len(errs); n > 0 {
		return nil, nil, opt, fmt.Errorf("%d error(s) in %s", n, strings.Join(files, ", "))
	}
	return set, defs, opt, nil
}

func segmentsCheck(args []string, stdout, stderr *output) error {
	fs := newFlags("segments check", "[flags] FILE...", stderr)
	var cf commonFlags
	cf.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := cf.load(false)
	if err != nil {
		return err
	}
	_, defs, _, err := checkFiles(cfg, fs.Args(), stderr)
	if err != nil {
		return err
	}
	for _, d := range defs {
		stdout.printf("ok  %-24s version %s  (%s)\n", d.Name, d.Version, d.Source)
	}
	return nil
}

func segmentsApply(ctx context.Context, args []string, stdout, stderr *output, del bool) error {
	name := "segments apply"
	if del {
		name = "segments delete"
	}
	fs := newFlags(name, "[flags] FILE...|NAME...", stderr)
	var cf commonFlags
	cf.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := cf.load(true)
	if err != nil {
		return err
	}
	if cfg.Segments.Topic == "off" {
		return errors.New("segments.topic is off: put definitions in segments.dir instead")
	}
	if *cfg.Kafka.CreateTopics {
		if err := service.EnsureTopics(ctx, cfg.Kafka, cfg.Topics(true)...); err != nil {
			return err
		}
	}
	if del {
		if err := segments.Publish(ctx, cfg.Kafka.Brokers, cfg.Kafka.Security, cfg.Segments.Topic, nil, fs.Args()); err != nil {
			return err
		}
		stdout.printf("published %d tombstone(s) to %s: %s\n", fs.NArg(), cfg.Segments.Topic, strings.Join(fs.Args(), ", "))
		return nil
	}
	_, defs, _, err := checkFiles(cfg, fs.Args(), stderr)
	if err != nil {
		return fmt.Errorf("%w: nothing published", err)
	}
	if err := segments.Publish(ctx, cfg.Kafka.Brokers, cfg.Kafka.Security, cfg.Segments.Topic, defs, nil); err != nil {
		return err
	}
	for _, d := range defs {
		stdout.printf("published %-24s version %s to %s\n", d.Name, d.Version, cfg.Segments.Topic)
	}
	return nil
}

// liveDefinitions reads the base and the topic to its end.
func liveDefinitions(ctx context.Context, cfg service.Config, stderr *output) (*segments.Live, error) {
	base, opt, err := baseFor(cfg)
	if err != nil {
		return nil, err
	}
	live := segments.NewLive(base, opt, nil, nil)
	if cfg.Segments.Topic == "off" || len(cfg.Kafka.Brokers) == 0 || cfg.Kafka.Brokers[0] == "unused:9092" {
		return live, nil
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	caught := make(chan struct{})
	dialer, err := cfg.Kafka.Security.Dialer(10 * time.Second)
	if err != nil {
		return nil, err
	}
	f := &segments.Follower{Brokers: cfg.Kafka.Brokers, Topic: cfg.Segments.Topic, Live: live, Dialer: dialer}
	errc := make(chan error, 1)
	go func() { errc <- f.Run(fctx, caught) }()
	select {
	case <-caught:
	case err := <-errc:
		stderr.printf("segments.topic %s not read (%v): showing the base only\n", cfg.Segments.Topic, err)
	case <-fctx.Done():
		stderr.printf("segments.topic %s not read to its end in 20s: showing what was read\n", cfg.Segments.Topic)
	}
	return live, nil
}

func segmentsList(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("segments list", "[flags]", stderr)
	var cf commonFlags
	cf.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	needKafka := cf.brokers != "" || os.Getenv("SEGSTREAM_KAFKA_BROKERS") != "" || cf.config != ""
	cfg, err := cf.load(needKafka)
	if err != nil {
		return err
	}
	live, err := liveDefinitions(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	var sizes map[string]int64
	if l, done, err := labelsFor(cf, false, stderr); err == nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sizes, err = l.SegmentSizes(sctx)
		cancel()
		done()
		if err != nil {
			stderr.printf("sizes not read from Redis (%v)\n", err)
		}
	}
	stdout.printf("%-24s %-12s %10s  %s\n", "SEGMENT", "VERSION", "MEMBERS", "SOURCE / DESCRIPTION")
	for _, d := range live.Set().Definitions() {
		var n int64
		if strings.HasSuffix(d.Name, "*") {
			pre := strings.TrimSuffix(d.Name, "*")
			for k, v := range sizes {
				if strings.HasPrefix(k, pre) {
					n += v
				}
			}
		} else {
			n = sizes[d.Name]
		}
		stdout.printf("%-24s %-12s %10d  %s  %s\n", d.Name, d.Version, n, d.Source, d.Description)
	}
	return nil
}

func segmentsPreview(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("segments preview", "[flags] FILE", stderr)
	var cf commonFlags
	cf.add(fs)
	samples := fs.Int("samples", 5, "sample members to show per segment")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	cfg, err := cf.load(false)
	if err != nil {
		return err
	}
	set, defs, opt, err := checkFiles(cfg, fs.Args(), stderr)
	if err != nil {
		return err
	}
	model, err := classifier.Load(service.RepoFile(cfg.Model.Path))
	if err != nil {
		return fmt.Errorf("model.path: %w", err)
	}
	l, done, err := labelsFor(cf, false, stderr)
	if err != nil {
		return err
	}
	defer done()
	res, err := api.Preview(ctx, l, model, set, opt, defs, *samples, func(n int) {
		if n%10000 < 500 {
			stderr.printf("preview: %d profiles evaluated\n", n)
		}
	})
	if err != nil {
		return err
	}
	stdout.printf("%d profiles evaluated at %s in %s (nothing written)\n", res.Profiles, res.At.Format(time.RFC3339), time.Duration(res.TookMs*float64(time.Millisecond)).Round(time.Millisecond))
	for _, sg := range res.Segments {
		stdout.printf("%-28s %8d members  %6.2f%%  e.g. %s\n", sg.Name, sg.Size, 100*sg.Share, strings.Join(sg.Sample, ", "))
	}
	return nil
}
