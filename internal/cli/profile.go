package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/service"
)

func init() {
	register("profile", "show a user's profile (--json for the full document)", cmdProfile)
}

func cmdProfile(ctx context.Context, args []string, stdout, stderr *output) error {
	fs := newFlags("profile", "[flags] USER", stderr)
	var cf commonFlags
	cf.add(fs)
	asJSON := fs.Bool("json", false, "print the profile as JSON")
	asOf := fs.String("as-of", "", "RFC 3339 time the windows and recency are computed at (default: the user's last event)")
	user, err := parseUser(fs, args)
	if err != nil {
		return err
	}
	var at time.Time
	if *asOf != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, *asOf); err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
	}
	cfg, err := cf.load(false)
	if err != nil {
		return err
	}
	rdb, err := service.NewRedis(cfg.Redis)
	if err != nil {
		return err
	}
	defer stderr.cleanup("closing Redis", rdb.Close)
	store, err := featurestore.New(rdb, cfg.Featurestore, nil, nil)
	if err != nil {
		return err
	}
	p, err := store.Get(ctx, user)
	if errors.Is(err, featurestore.ErrNoProfile) {
		return fmt.Errorf("no profile for user %q under prefix %q", user, cfg.Featurestore.Prefix)
	}
	if err != nil {
		return err
	}
	v := featurestore.NewView(p, at)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return PrintProfile(stdout, v)
}

// PrintProfile renders a profile view for people and returns the first
// write error.
func PrintProfile(wr io.Writer, v featurestore.View) error {
	w := newOutput(wr)
	w.printf("user %s  (as of %s)\n", v.UserID, v.AsOf.Format(time.RFC3339))
	w.printf("  seen        %s .. %s (tenure %.0f days)\n", v.FirstSeen.Format("2006-01-02"), v.LastSeen.Format("2006-01-02"), v.TenureDays)
	rec := "never bought"
	if v.RFM.RecencyDays != nil {
		rec = fmt.Sprintf("%.0f days since last purchase", *v.RFM.RecencyDays)
	}
	w.printf("  RFM         %s; %d orders on %d days; %.2f spent (%.2f net)\n", rec, v.RFM.Frequency, v.RFM.PurchaseDays, v.RFM.Monetary, v.RFM.NetMonetary)
	w.printf("  orders      avg %.2f; %d refunds worth %.2f; %d units\n", v.AvgOrderValue, v.Refunds, v.RefundAmount, v.Units)
	for _, d := range featurestore.WindowDays {
		k := fmt.Sprintf("%dd", d)
		wv := v.Windows[k]
		w.printf("  last %-4s   %v spend %.2f refund %.2f\n", k, wv.Counts, wv.Spend, wv.Refund)
	}
	w.printf("  all time    %v\n", v.Counts)
	if v.Ratings.Count > 0 {
		w.printf("  reviews     %d, mean rating %.2f\n", v.Ratings.Count, v.Ratings.Mean)
	}
	if len(v.TopCategories) > 0 {
		var cs []string
		for _, c := range v.TopCategories {
			cs = append(cs, fmt.Sprintf("%s (%d)", c.Category, c.Count))
		}
		w.printf("  categories  %s\n", strings.Join(cs, ", "))
	}
	for i, t := range v.Texts {
		if i == 5 {
			w.printf("  ...         %d more texts\n", len(v.Texts)-5)
			break
		}
		w.printf("  text        %s %-8s %s\n", t.TS.Format("2006-01-02"), t.Kind, t.Text)
	}
	return w.Err()
}
