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

func cmdProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
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
	rdb := service.NewRedis(cfg.Redis)
	defer rdb.Close()
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
	PrintProfile(stdout, v)
	return nil
}

// PrintProfile renders a profile view for people.
func PrintProfile(w io.Writer, v featurestore.View) {
	fmt.Fprintf(w, "user %s  (as of %s)\n", v.UserID, v.AsOf.Format(time.RFC3339))
	fmt.Fprintf(w, "  seen        %s .. %s (tenure %.0f days)\n", v.FirstSeen.Format("2006-01-02"), v.LastSeen.Format("2006-01-02"), v.TenureDays)
	rec := "never bought"
	if v.RFM.RecencyDays != nil {
		rec = fmt.Sprintf("%.0f days since last purchase", *v.RFM.RecencyDays)
	}
	fmt.Fprintf(w, "  RFM         %s; %d orders on %d days; %.2f spent (%.2f net)\n", rec, v.RFM.Frequency, v.RFM.PurchaseDays, v.RFM.Monetary, v.RFM.NetMonetary)
	fmt.Fprintf(w, "  orders      avg %.2f; %d refunds worth %.2f; %d units\n", v.AvgOrderValue, v.Refunds, v.RefundAmount, v.Units)
	for _, d := range featurestore.WindowDays {
		k := fmt.Sprintf("%dd", d)
		wv := v.Windows[k]
		fmt.Fprintf(w, "  last %-4s   %v spend %.2f refund %.2f\n", k, wv.Counts, wv.Spend, wv.Refund)
	}
	fmt.Fprintf(w, "  all time    %v\n", v.Counts)
	if v.Ratings.Count > 0 {
		fmt.Fprintf(w, "  reviews     %d, mean rating %.2f\n", v.Ratings.Count, v.Ratings.Mean)
	}
	if len(v.TopCategories) > 0 {
		var cs []string
		for _, c := range v.TopCategories {
			cs = append(cs, fmt.Sprintf("%s (%d)", c.Category, c.Count))
		}
		fmt.Fprintf(w, "  categories  %s\n", strings.Join(cs, ", "))
	}
	for i, t := range v.Texts {
		if i == 5 {
			fmt.Fprintf(w, "  ...         %d more texts\n", len(v.Texts)-5)
			break
		}
		fmt.Fprintf(w, "  text        %s %-8s %s\n", t.TS.Format("2006-01-02"), t.Kind, t.Text)
	}
}
