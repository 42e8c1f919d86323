package featurestore

import (
	"regexp"
	"strings"
)

// Scrubbing patterns. Go's regexp is RE2 (linear time), so hostile input
// cannot make scrubbing slow.
var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// card-like: 13 to 19 digits, optionally grouped by spaces or dashes.
	reCard = regexp.MustCompile(`\b\d(?:[ \-]?\d){12,18}\b`)
	// phone-like: optional +, then at least 8 digits with common separators.
	rePhone = regexp.MustCompile(`(?:\+|\b)\d(?:[ ().\-]{0,2}\d){7,14}\b`)
	reDate  = regexp.MustCompile(`^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$`)
)

// Scrub replaces personal data in free text (emails, card-like numbers,
// phone numbers) by placeholders: [email], [card], [phone]. It runs on
// every text before it is stored or encoded.
func Scrub(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = reEmail.ReplaceAllString(s, "[email]")
	}
	if hasDigitRun(s, 8) {
		s = reCard.ReplaceAllString(s, "[card]")
		s = rePhone.ReplaceAllStringFunc(s, func(m string) string {
			if reDate.MatchString(m) {
				return m // 2010-12-01, 01/12/2010: dates are not phone numbers
			}
			return "[phone]"
		})
	}
	return s
}

// hasDigitRun is a cheap pre-check: no scrubbing regexp can match unless
// the text has at least n digits in total.
func hasDigitRun(s string, n int) bool {
	c := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			c++
			if c >= n {
				return true
			}
		}
	}
	return false
}

// normalizeSpace trims and collapses runs of whitespace to one space.
func normalizeSpace(s string) string {
	clean := len(s) == 0 || (s[0] != ' ' && s[len(s)-1] != ' ')
	for i := 0; clean && i < len(s); i++ {
		switch s[i] {
		case '\t', '\n', '\r', '\v', '\f':
			clean = false
		case ' ':
			clean = s[i+1] != ' '
		}
	}
	if clean && !strings.ContainsRune(s, '\u00a0') {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
