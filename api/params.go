package api

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxIDBytes bounds user ids and segment names in paths (the event
// decoder's limit for identifiers).
const maxIDBytes = 256

// checkID refuses an id the service could never have stored.
func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty")
	case len(id) > maxIDBytes:
		return fmt.Errorf("%d bytes, at most %d", len(id), maxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("holds a control character")
		}
	}
	return nil
}

// paramError is a bad query parameter.
type paramError struct {
	param, msg string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

func badParam(param, format string, a ...any) *paramError {
	return &paramError{param: param, msg: fmt.Sprintf(format, a...)}
}

// queryTime reads a time parameter: RFC 3339 or unix seconds; ok false
// when absent.
func queryTime(q url.Values, name string) (time.Time, bool, *paramError) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, false, badParam(name, "%q is out of range", v)
		}
		return time.Unix(n, 0).UTC(), true, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, badParam(name, "%q is neither RFC 3339 (2011-12-09T12:00:00Z) nor unix seconds", v)
	}
	return t.UTC(), true, nil
}

// queryLimit reads a page size: def when absent, clamped to max, at
// least 1.
func queryLimit(q url.Values, name string, def, max int) (int, *paramError) {
	v := q.Get(name)
	if v == "" {
		return min(def, max), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badParam(name, "%q is not a positive integer", v)
	}
	return min(n, max), nil
}

// queryDuration reads a duration: a Go duration (90m, 1h) or days (7d).
func queryDuration(q url.Values, name string) (time.Duration, bool, *paramError) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil {
			return 0, false, badParam(name, "%q is not a duration (90s, 15m, 1h, 7d)", v)
		}
		d = time.Duration(n * 24 * float64(time.Hour))
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, false, badParam(name, "%q is not a duration (90s, 15m, 1h, 7d)", v)
		}
	}
	if d <= 0 {
		return 0, false, badParam(name, "%q must be positive", v)
	}
	return d, true, nil
}

// A members cursor is opaque to clients: "v1." and the base64url of the
// last member's index score and user id.

func encodeCursor(score, user string) string {
	return "v1." + base64.RawURLEncoding.EncodeToString([]byte(score+"\n"+user))
}

func decodeCursor(c string) (score, user string, err error) {
	rest, ok := strings.CutPrefix(c, "v1.")
	if !ok {
		return "", "", fmt.Errorf("not a cursor this API returned")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", "", fmt.Errorf("not a cursor this API returned")
	}
	score, user, ok = strings.Cut(string(b), "\n")
	if !ok || user == "" {
		return "", "", fmt.Errorf("not a cursor this API returned")
	}
	if _, err := strconv.ParseFloat(score, 64); err != nil {
		return "", "", fmt.Errorf("not a cursor this API returned")
	}
	return score, user, nil
}
