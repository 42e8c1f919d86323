package cli

import (
	"context"
	"fmt"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/replay"
	"github.com/segstream/segstream/service"
)

func init() {
	register("replay", "send a data set (Online Retail, REES46 or JSON lines) to the input topics", cmdReplay)
}

// DefaultRetailFiles are the two Online Retail files, oldest first.
var DefaultRetailFiles = []string{"../shared/data/online_retail_II_2009_2010.csv.gz", "../shared/data/online_retail_2010_2011.csv.gz"}

// retailFiles is DefaultRetailFiles resolved from the repository root.
func retailFiles() []string {
	files := make([]string, len(DefaultRetailFiles))
	for i, f := range DefaultRetailFiles {
		files[i] = service.RepoFile(f)
	}
	return files
}

func cmdReplay(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("replay", "[flags] FILE... (Online Retail CSV(.gz) files are merged and de-duplicated)", stderr)
	var cf commonFlags
	cf.add(fs)
	speed := fs.Float64("speed", 0, "replay speed as a multiple of event time (0: as fast as possible)")
	format := fs.String("format", "auto", "input format: auto, retail, rees46, jsonl")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		files = retailFiles()
	}
	cfg, err := cf.load(true)
	if err != nil {
		return err
	}
	if *cfg.Kafka.CreateTopics {
		if err := service.EnsureTopics(ctx, cfg.Kafka, cfg.Topics(false)...); err != nil {
			return err
		}
	}
	items, st, err := LoadItems(files, replay.Format(*format))
	if err != nil {
		return err
	}
	sc := replay.SendConfig{
		Brokers:  cfg.Kafka.Brokers,
		Security: cfg.Kafka.Security,
		Topics: map[events.Family]string{
			events.FamilyClickstream: cfg.Kafka.Topics.Clickstream,
			events.FamilyPurchase:    cfg.Kafka.Topics.Purchases,
			events.FamilyReview:      cfg.Kafka.Topics.Reviews,
		},
		Speed: *speed,
	}
	if !*quiet {
		sc.Progress = stderr
	}
	snd, err := replay.Send(ctx, items, sc, nil)
	stdout.print(replay.Summary(st, snd))
	return err
}

// LoadItems reads data files into replay items. Online Retail files are
// read together (so overlapping invoices are de-duplicated); other formats
// are appended in file order.
func LoadItems(files []string, format replay.Format) ([]replay.Item, replay.Stats, error) {
	var retail []string
	var items []replay.Item
	total := replay.Stats{Skipped: map[string]int{}, ByType: map[string]int{}}
	merge := func(st replay.Stats) {
		total.Rows += st.Rows
		total.Events += st.Events
		for k, v := range st.Skipped {
			total.Skipped[k] += v
		}
		for k, v := range st.ByType {
			total.ByType[k] += v
		}
		if !st.FirstTS.IsZero() && (total.FirstTS.IsZero() || st.FirstTS.Before(total.FirstTS)) {
			total.FirstTS = st.FirstTS
		}
		if st.LastTS.After(total.LastTS) {
			total.LastTS = st.LastTS
		}
	}
	for _, f := range files {
		ff := format
		if ff == "auto" || ff == "" {
			var err error
			if ff, err = replay.DetectFormat(f); err != nil {
				return nil, total, err
			}
		}
		switch ff {
		case replay.FormatRetail:
			retail = append(retail, f)
		case replay.FormatREES46:
			its, st, err := replay.ReadREES46(f, nil)
			if err != nil {
				return nil, total, err
			}
			items = append(items, its...)
			merge(st)
		case replay.FormatJSONL:
			its, st, err := replay.ReadJSONL(f, nil)
			if err != nil {
				return nil, total, err
			}
			items = append(items, its...)
			merge(st)
		default:
			return nil, total, fmt.Errorf("--format: unknown format %q (auto, retail, rees46, jsonl)", ff)
		}
	}
	if len(retail) > 0 {
		its, st, err := replay.ReadRetail(retail, replay.RetailOptions{})
		if err != nil {
			return nil, total, err
		}
		items = append(its, items...)
		merge(st)
	}
	return items, total, nil
}
