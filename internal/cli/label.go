package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/labelstage"
	"github.com/segstream/segstream/producer"
	"github.com/segstream/segstream/service"
)

func init() {
	register("label", "show a user's current labels (--json for the label document)", cmdLabel)
	register("erase", "forget a user: delete profile, embedding and labels, publish the tombstone", cmdErase)
}

// labelsFor builds the label stage's store access for operator commands.
// The returned func closes the clients and reports a failure on stderr.
func labelsFor(cf commonFlags, needKafka bool, stderr *output) (*labelstage.Stage, func(), error) {
	cfg, err := cf.load(needKafka)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := service.NewRedis(cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	store, err := featurestore.New(rdb, cfg.Featurestore, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	var pub *producer.Publisher
	var lpub labelstage.Publisher // stays a nil interface without Kafka
	if needKafka {
		pc := cfg.Producer
		pc.Brokers = cfg.Kafka.Brokers
		pc.Security = cfg.Kafka.Security
		if pub, err = producer.New(pc); err != nil {
			return nil, nil, err
		}
		lpub = pub
	}
	l, err := labelstage.New(store, nil, nil, lpub, cfg.Labels.Config, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return l, func() {
		if pub != nil {
			stderr.cleanup("closing the Kafka producer", pub.Close)
		}
		stderr.cleanup("closing Redis", rdb.Close)
	}, nil
}

// parseUser parses flags around the one USER argument (before or after
// the flags) and returns the user.
func parseUser(fs *flag.FlagSet, args []string) (string, error) {
	var user string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		user, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if user == "" && fs.NArg() == 1 {
		user = fs.Arg(0)
	}
	if user == "" {
		fs.Usage()
		return "", errUsage
	}
	return user, nil
}

func cmdLabel(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("label", "[flags] USER", stderr)
	var cf commonFlags
	cf.add(fs)
	asJSON := fs.Bool("json", false, "print the label document as JSON")
	user, err := parseUser(fs, args)
	if err != nil {
		return err
	}
	l, done, err := labelsFor(cf, false, stderr)
	if err != nil {
		return err
	}
	defer done()
	doc, erased, err := l.Label(ctx, user)
	if err != nil {
		return err
	}
	if erased {
		return fmt.Errorf("user %q was erased", user)
	}
	if doc == nil {
		return fmt.Errorf("no labels for user %q yet", user)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	stdout.printf("user %s  version %d  as of %s  model %s@%s\n", doc.UserID, doc.Version, doc.AsOf.Format(time.RFC3339), doc.Model.Name, doc.Model.Version)
	stdout.printf("  segments  %s\n", strings.Join(doc.Segments, ", "))
	keys := make([]string, 0, len(doc.Scores))
	for k := range doc.Scores {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		stdout.printf("  %-28s %.4f\n", k, doc.Scores[k])
	}
	for _, r := range doc.Reasons {
		stdout.printf("  because   %-12s %s = %.3f (contribution %+.3f)\n", r.Segment, r.Input, r.Value, r.Contribution)
	}
	return nil
}

func cmdErase(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("erase", "[flags] USER", stderr)
	var cf commonFlags
	cf.add(fs)
	user, err := parseUser(fs, args)
	if err != nil {
		return err
	}
	l, done, err := labelsFor(cf, true, stderr)
	if err != nil {
		return err
	}
	defer done()
	if err := l.Erase(ctx, user); err != nil {
		return err
	}
	if err := l.PublishPending(ctx, user); err != nil {
		stdout.printf("erased %s; tombstone queued in the outbox (%v)\n", user, err)
		return nil
	}
	stdout.printf("erased %s: profile replaced by a tombstone that drops later events, embedding and labels deleted, tombstone published\n", user)
	return nil
}
