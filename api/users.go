package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/segstream/segstream/events"
	"github.com/segstream/segstream/featurestore"
	"github.com/segstream/segstream/label"
)

// User is the body of GET /v1/users/{id}.
type User struct {
	UserID string `json:"user_id"`
	// Label is the current label document as published on segments.labels
	// (null while the user waits for its first labelling).
	Label json.RawMessage `json:"label"`
	// Version is the label record's version; Published whether Kafka has
	// acknowledged it.
	Version   int64           `json:"version"`
	Published bool            `json:"published"`
	Profile   *ProfileSummary `json:"profile"`
}

// ProfileSummary is a short view of a user's rolling profile.
type ProfileSummary struct {
	FirstSeen     time.Time         `json:"first_seen"`
	LastSeen      time.Time         `json:"last_seen"`
	Events        map[string]uint64 `json:"events"` // all-time count per event type
	PurchaseDays  int               `json:"purchase_days"`
	Spend         float64           `json:"spend"`   // gross purchases, currency units
	Refunds       float64           `json:"refunds"` // refunded amount
	LastPurchase  *time.Time        `json:"last_purchase"`
	Reviews       uint32            `json:"reviews"`
	MeanRating    *float64          `json:"mean_rating"`
	TopCategories []string          `json:"top_categories"`
}

func summarize(p *featurestore.Profile) *ProfileSummary {
	if p == nil {
		return nil
	}
	s := &ProfileSummary{FirstSeen: time.Unix(p.FirstSeen, 0).UTC(), LastSeen: time.Unix(p.LastSeen, 0).UTC(),
		Events: map[string]uint64{}, PurchaseDays: len(p.PurchaseDays) + int(p.PurchaseDaysDropped),
		Spend: float64(p.SpendCents) / 100, Refunds: float64(p.RefundCents) / 100, Reviews: p.RatingCount, TopCategories: []string{}}
	for t := 1; t < events.NumTypes; t++ {
		if n := p.Counts[t]; n > 0 {
			s.Events[events.Type(t).String()] = n
		}
	}
	if p.LastPurchase != 0 {
		t := time.Unix(p.LastPurchase, 0).UTC()
		s.LastPurchase = &t
	}
	if p.RatingCount > 0 {
		m := label.Round(float64(p.RatingSum) / float64(p.RatingCount))
		s.MeanRating = &m
	}
	for i, c := range p.Categories {
		if i == 5 {
			break
		}
		s.TopCategories = append(s.TopCategories, c.Category)
	}
	return s
}

// userArg checks the path's user id.
func userArg(w http.ResponseWriter, args []string) (string, bool) {
	if err := checkID(args[0]); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "id", "user id: "+err.Error())
		return "", false
	}
	return args[0], true
}

func erasedError(w http.ResponseWriter, user string) {
	writeError(w, http.StatusGone, "erased", "", "user "+quote(user)+" was erased: nothing of it is kept")
}

func unknownUser(w http.ResponseWriter, user string) {
	writeError(w, http.StatusNotFound, "not_found", "id", "no user "+quote(user))
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, args []string) {
	user, ok := userArg(w, args)
	if !ok {
		return
	}
	u, err := s.users.get(r.Context(), user)
	if err != nil {
		s.internal(w, r, "reading the user", err)
		return
	}
	switch {
	case u.Erased:
		erasedError(w, user)
		return
	case !u.Known():
		unknownUser(w, user)
		return
	}
	// written by hand: the stored document is already JSON, and
	// json.Marshal would scan and copy it again
	id, _ := json.Marshal(user)
	prof, err := json.Marshal(summarize(u.Profile))
	if err != nil {
		s.internal(w, r, "encoding the profile", err)
		return
	}
	b := make([]byte, 0, 64+len(id)+len(u.Doc)+len(prof))
	b = append(b, `{"user_id":`...)
	b = append(b, id...)
	b = append(b, `,"label":`...)
	if u.Doc != nil {
		b = append(b, u.Doc...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, u.Version, 10)
	b = append(b, `,"published":`...)
	b = strconv.AppendBool(b, u.Version > 0 && u.Published >= u.Version)
	b = append(b, `,"profile":`...)
	b = append(b, prof...)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// History is the body of GET /v1/users/{id}/history.
type History struct {
	UserID string `json:"user_id"`
	// Version is the current label version.
	Version int64 `json:"version"`
	// Entries are the newest versions first, at most limit of them.
	Entries []label.HistoryEntry `json:"entries"`
	// Complete tells whether the entries reach back to version 1 (older
	// ones are trimmed past labels.history, or beyond limit).
	Complete bool `json:"complete"`
}

// HistoryAt is the body of GET /v1/users/{id}/history?at=T.
type HistoryAt struct {
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
	// Version in effect at At (0: the user had no label document yet),
	// decided at event time Since.
	Version  int64      `json:"version"`
	Since    *time.Time `json:"since"`
	Segments []string   `json:"segments"`
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request, args []string) {
	user, ok := userArg(w, args)
	if !ok {
		return
	}
	q := r.URL.Query()
	at, hasAt, perr := queryTime(q, "at")
	if perr != nil {
		writeError(w, http.StatusBadRequest, "bad_request", perr.param, perr.Error())
		return
	}
	limit := 0
	if !hasAt {
		if limit, perr = queryLimit(q, "limit", 20, s.d.Labels.HistoryKept()); perr != nil {
			writeError(w, http.StatusBadRequest, "bad_request", perr.param, perr.Error())
			return
		}
	}
	entries, version, erased, err := s.d.Labels.History(r.Context(), user, limit)
	if err != nil {
		s.internal(w, r, "reading the history", err)
		return
	}
	switch {
	case erased:
		erasedError(w, user)
		return
	case version == 0 && len(entries) == 0:
		u, err := s.d.Labels.User(r.Context(), user)
		if err != nil {
			s.internal(w, r, "reading the user", err)
			return
		}
		if !u.Known() {
			unknownUser(w, user)
			return
		}
	}
	if entries == nil {
		entries = []label.HistoryEntry{}
	}
	if !hasAt {
		complete := len(entries) == 0 && version == 0 || len(entries) > 0 && entries[len(entries)-1].Version == 1
		writeJSON(w, http.StatusOK, History{UserID: user, Version: version, Entries: entries, Complete: complete})
		return
	}
	// entries are newest first and their times never decrease with the
	// version: the first at or before T is the one in effect
	out := HistoryAt{UserID: user, At: at, Segments: []string{}}
	for _, e := range entries {
		if !e.At.After(at) {
			out.Version, out.Segments = e.Version, e.Segments
			t := e.At
			out.Since = &t
			break
		}
	}
	if out.Version == 0 && len(entries) > 0 && entries[len(entries)-1].Version > 1 {
		oldest := entries[len(entries)-1]
		writeError(w, http.StatusNotFound, "history_trimmed", "at", "the history kept starts at version "+strconv.FormatInt(oldest.Version, 10)+" ("+oldest.At.Format(time.RFC3339)+"); older versions were trimmed (labels.history)")
		return
	}
	writeJSON(w, http.StatusOK, out)
}
