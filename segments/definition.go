package segments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Definition is one segment definition as written in a file or on the
// definitions topic.
type Definition struct {
	// Name is the segment name (the contract name on segments.labels and
	// segments.changes). A family (Each set) ends in "*": one segment per
	// key of the Each map, named with the key in place of the "*".
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Enter is the CEL expression (bool) that puts a non-member in.
	Enter string `yaml:"enter" json:"enter"`
	// Exit is the CEL expression (bool) that takes a member out; empty:
	// !enter (no hysteresis).
	Exit string `yaml:"exit,omitempty" json:"exit,omitempty"`
	// MinDwell is the least event time between two changes of one user's
	// membership: a member stays at least this long, and one who left does
	// not come back sooner.
	MinDwell Duration `yaml:"min_dwell,omitempty" json:"min_dwell,omitempty"`
	// Each names a map variable (interests, categories, scores,
	// value_tier_p): the definition is a family, evaluated once per key
	// with `key` and `value` bound.
	Each string `yaml:"each,omitempty" json:"each,omitempty"`
	// Explain names the model head whose contributions explain the segment:
	// "churn" or "value:<tier>". Empty: "churn" when the expressions read
	// churn_risk, none otherwise.
	Explain string `yaml:"explain,omitempty" json:"explain,omitempty"`
	// Version identifies this revision of the definition; empty: a hash of
	// its content (the same on every instance).
	Version string `yaml:"version,omitempty" json:"version,omitempty"`

	// Source says where the definition came from ("file.yaml:12",
	// "segments.definitions/0@41"); set by the loaders.
	Source string `yaml:"-" json:"source,omitempty"`
	pos    map[string]Pos
	// src is the document the definition was parsed from (shared, not
	// copied) and styles the YAML style of each field's scalar: they place
	// errors inside an expression (exprPos).
	src    []byte
	styles map[string]yaml.Style
}

// Pos is a line and column in a definition's source (1-based; 0: unknown).
type Pos struct{ Line, Col int }

func (p Pos) String() string {
	if p.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Col)
}

// Duration is a time.Duration written as "168h", "30m" or "7d" (days).
type Duration time.Duration

// UnmarshalYAML reads a Go duration or a whole number of days ("7d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go form.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		var days float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(s, "d"), "%g", &days); err != nil || days < 0 {
			return 0, fmt.Errorf("duration %q: want a Go duration (168h) or days (7d)", s)
		}
		return time.Duration(days * 24 * float64(time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("duration %q: want a Go duration (168h) or days (7d)", s)
	}
	return v, nil
}

// Error is a refused definition: which one, which field, where, and why.
type Error struct {
	Source  string // file or topic position of the definition
	Segment string // its name ("" when it has none)
	Field   string // name, enter, exit, min_dwell, ...
	Expr    string // the expression, for enter and exit
	Pos     Pos    // line:column in the source (of the field, or of the CEL error within it)
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		src := e.Source
		if e.Pos.Line > 0 {
			// "file.yaml:12" (the definition's line) is followed by the
			// exact position: write "file.yaml:14:7", not "file.yaml:12:14:7"
			if i := strings.LastIndexByte(src, ':'); i > 0 && isDigits(src[i+1:]) {
				src = src[:i]
			}
		}
		b.WriteString(src)
		if e.Pos.Line > 0 {
			b.WriteString(":" + e.Pos.String())
		}
		b.WriteString(": ")
	}
	if e.Segment != "" {
		fmt.Fprintf(&b, "segment %q: ", e.Segment)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	if e.Expr != "" {
		fmt.Fprintf(&b, " (in %q)", e.Expr)
	}
	return b.String()
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Errors is the list of refusals of one load.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Err is es as an error, nil when empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// AsErrors lists the refusals in err (a single *Error, Errors, or other).
func AsErrors(err error) Errors {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	if err != nil {
		return Errors{{Msg: err.Error()}}
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(:[a-z0-9_*][a-z0-9_\-*]*)?$`)

// MaxExprBytes bounds one expression.
const MaxExprBytes = 4096

// ParseFile reads a definitions file: a mapping with `segments:`, a list
// of definitions. source names it in errors and in each Definition.Source.
// Every refusal is returned (parsing goes on past a bad definition); the
// definitions returned are only the well-formed ones.
func ParseFile(data []byte, source string) ([]Definition, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{Source: source, Msg: "not YAML: " + err.Error()}}
	}
	if len(root.Content) == 0 || isEmptyDoc(root.Content[0]) {
		return nil, Errors{{Source: source, Msg: "empty file: want `segments:`, a list of definitions"}}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, Errors{{Source: source, Pos: posOf(doc), Msg: "want a mapping with `segments:`"}}
	}
	var list *yaml.Node
	var errs Errors
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != "segments" {
			errs = append(errs, &Error{Source: source, Pos: posOf(k), Msg: fmt.Sprintf("unknown field %q (want `segments:`)", k.Value)})
			continue
		}
		list = v
	}
	if list == nil {
		return nil, append(errs, &Error{Source: source, Msg: "no `segments:` list"})
	}
	if list.Kind != yaml.SequenceNode {
		return nil, append(errs, &Error{Source: source, Pos: posOf(list), Msg: "`segments:` must be a list"})
	}
	var defs []Definition
	seen := map[string]Pos{}
	for _, n := range list.Content {
		d, err := parseNode(n, source, data)
		if err != nil {
			errs = append(errs, AsErrors(err)...)
			continue
		}
		if p, dup := seen[d.Name]; dup {
			errs = append(errs, &Error{Source: source, Segment: d.Name, Field: "name", Pos: d.pos["name"], Msg: fmt.Sprintf("duplicate name (first at line %d)", p.Line)})
			continue
		}
		seen[d.Name] = d.pos["name"]
		defs = append(defs, d)
	}
	return defs, errs.Err()
}

// ParseOne reads one definition (a mapping), the value of a message on the
// definitions topic.
func ParseOne(data []byte, source string) (Definition, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Definition{}, &Error{Source: source, Msg: "not YAML: " + err.Error()}
	}
	if len(root.Content) == 0 || isEmptyDoc(root.Content[0]) {
		return Definition{}, &Error{Source: source, Msg: "empty definition"}
	}
	return parseNode(root.Content[0], source, data)
}

var fields = map[string]bool{"name": true, "description": true, "enter": true, "exit": true, "min_dwell": true, "each": true, "explain": true, "version": true}

func parseNode(n *yaml.Node, source string, data []byte) (Definition, error) {
	d := Definition{pos: map[string]Pos{}, src: data, styles: map[string]yaml.Style{}}
	if n.Kind != yaml.MappingNode {
		return d, &Error{Source: source, Pos: posOf(n), Msg: "a definition must be a mapping (name, enter, ...)"}
	}
	d.pos["definition"] = posOf(n)
	var errs Errors
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "name" && v.Kind == yaml.ScalarNode {
			d.Name = v.Value
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !fields[k.Value] {
			errs = append(errs, &Error{Source: source, Segment: d.Name, Field: k.Value, Pos: posOf(k), Msg: "unknown field (known: name, description, enter, exit, min_dwell, each, explain, version)"})
			continue
		}
		if _, dup := d.pos[k.Value]; dup {
			errs = append(errs, &Error{Source: source, Segment: d.Name, Field: k.Value, Pos: posOf(k), Msg: "given twice"})
			continue
		}
		d.pos[k.Value] = posOf(v)
		d.styles[k.Value] = v.Style
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, &Error{Source: source, Segment: d.Name, Field: k.Value, Pos: posOf(v), Msg: "want a string"})
			continue
		}
		switch k.Value {
		case "name":
		case "description":
			d.Description = v.Value
		case "enter":
			d.Enter = v.Value
		case "exit":
			d.Exit = v.Value
		case "each":
			d.Each = v.Value
		case "explain":
			d.Explain = v.Value
		case "version":
			d.Version = v.Value
		case "min_dwell":
			dur, err := parseDuration(v.Value)
			if err != nil {
				errs = append(errs, &Error{Source: source, Segment: d.Name, Field: "min_dwell", Pos: posOf(v), Msg: err.Error()})
			}
			d.MinDwell = Duration(dur)
		}
	}
	d.Source = source
	if p := d.pos["definition"]; p.Line > 0 {
		d.Source = fmt.Sprintf("%s:%d", source, p.Line)
	}
	errs = append(errs, d.check(source)...)
	if len(errs) > 0 {
		return d, errs
	}
	if d.Version == "" {
		d.Version = d.ContentHash()
	}
	return d, nil
}

// check validates the fields that need no compiler.
func (d *Definition) check(source string) Errors {
	var errs Errors
	bad := func(field, msg string) {
		errs = append(errs, &Error{Source: source, Segment: d.Name, Field: field, Pos: d.pos[field], Msg: msg})
	}
	switch {
	case d.Name == "":
		bad("name", "missing")
	case len(d.Name) > 128 || !nameRE.MatchString(d.Name):
		bad("name", "want lower-case letters, digits and _, optionally a \":\" and a suffix (e.g. at_risk, interest:books), at most 128 bytes")
	case d.Each == "" && strings.Contains(d.Name, "*"):
		bad("name", "\"*\" only names a family (with each:)")
	case d.Each != "" && !strings.HasSuffix(d.Name, ":*"):
		bad("name", "a family (each:) is named prefix:* (e.g. interest:*)")
	}
	if strings.TrimSpace(d.Enter) == "" {
		bad("enter", "missing")
	}
	if len(d.Enter) > MaxExprBytes {
		bad("enter", fmt.Sprintf("longer than %d bytes", MaxExprBytes))
	}
	if len(d.Exit) > MaxExprBytes {
		bad("exit", fmt.Sprintf("longer than %d bytes", MaxExprBytes))
	}
	if d.Each != "" && !eachable[d.Each] {
		bad("each", "want one of interests, categories, scores, value_tier_p")
	}
	if d.Explain != "" && d.Explain != "churn" && !strings.HasPrefix(d.Explain, "value:") {
		bad("explain", "want churn or value:<tier> (value:none, value:mid, value:high)")
	}
	if len(d.Version) > 64 {
		bad("version", "at most 64 bytes")
	}
	return errs
}

// ContentHash is the first 12 hex digits of a hash of what the definition
// says (not where it came from): its default version.
func (d *Definition) ContentHash() string {
	h := sha256.New()
	for _, s := range []string{d.Name, d.Description, d.Enter, d.Exit, time.Duration(d.MinDwell).String(), d.Each, d.Explain} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Marshal writes the definition as the YAML of one mapping (the value of
// a definitions-topic message; ParseOne reads it back).
func (d *Definition) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(d)
	if err != nil {
		return nil, err
	}
	var back Definition
	if yaml.Unmarshal(b, &back) == nil && back.sameText(d) {
		return b, nil
	}
	// yaml.v3 writes some multi-line strings (a leading line break or tab)
	// as block scalars that read back otherwise or not at all: quote them
	dwell := ""
	if d.MinDwell != 0 {
		dwell = time.Duration(d.MinDwell).String()
	}
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range []struct {
		k, v string
		omit bool
	}{
		{"name", d.Name, false}, {"description", d.Description, true}, {"enter", d.Enter, false}, {"exit", d.Exit, true},
		{"min_dwell", dwell, true}, {"each", d.Each, true},
		{"explain", d.Explain, true}, {"version", d.Version, true},
	} {
		if f.omit && f.v == "" {
			continue
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.k},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.v, Style: yaml.DoubleQuotedStyle})
	}
	return yaml.Marshal(n)
}

// sameText is whether d and o say the same (what Marshal writes).
func (d *Definition) sameText(o *Definition) bool {
	return d.Name == o.Name && d.Description == o.Description && d.Enter == o.Enter && d.Exit == o.Exit &&
		d.MinDwell == o.MinDwell && d.Each == o.Each && d.Explain == o.Explain && d.Version == o.Version
}

// FieldPos is where a field of the definition was written.
func (d *Definition) FieldPos(field string) Pos { return d.pos[field] }

// isEmptyDoc is whether n is the nothing of a document with no content
// ("---" alone; yaml.v3 places it on the line after).
func isEmptyDoc(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// exprPos places a position within the value of an expression field (in:
// line and column, 1-based, in characters of the value, as CEL reports
// them) in the definition's source. The value is matched to the YAML text
// of its scalar character by character, which accounts for quotes,
// escapes, indentation, a block scalar's header line and folded lines.
// ok is false without the source (a definition built in code) or where
// the text does not match the value.
func (d *Definition) exprPos(field string, in Pos) (Pos, bool) {
	at, ok := d.pos[field]
	if !ok || at.Line == 0 || in.Line == 0 || d.src == nil {
		return Pos{}, false
	}
	var val string
	switch field {
	case "enter":
		val = d.Enter
	case "exit":
		val = d.Exit
	default:
		return Pos{}, false
	}
	vr := []rune(val)
	// the index in the value of in
	target, line := -1, 1
	for i := 0; i <= len(vr); i++ {
		if line == in.Line {
			target = i + in.Col - 1
			break
		}
		if i < len(vr) && vr[i] == '\n' {
			line++
		}
	}
	if target < 0 || in.Col < 1 {
		return Pos{}, false
	}
	if target >= len(vr) {
		// at or past the end (a syntax error at EOF): just after the last
		// character
		if len(vr) == 0 {
			return Pos{}, false
		}
		p, ok := d.locate(field, vr, len(vr)-1)
		p.Col++
		return p, ok
	}
	return d.locate(field, vr, target)
}

// locate is the source position of vr[target], vr the value of field.
func (d *Definition) locate(field string, vr []rune, target int) (Pos, bool) {
	at := d.pos[field]
	sr := []rune(string(d.src))
	j, l, c := 0, 1, 1
	if len(sr) > 0 && sr[0] == '\uFEFF' {
		j = 1 // a byte order mark is not a character of the text
	}
	next := func() {
		if j >= len(sr) {
			return
		}
		if isBreak(sr, j) {
			l, c = l+1, 1
		} else {
			c++
		}
		j++
	}
	// the scalar's first character
	for j < len(sr) && (l < at.Line || l == at.Line && c < at.Col) {
		next()
	}
	if l != at.Line || c != at.Col {
		return Pos{}, false
	}
	// an anchor (&a) or a tag (!!str) before the text
	for j < len(sr) && (sr[j] == '&' || sr[j] == '!') {
		for j < len(sr) && sr[j] != ' ' && sr[j] != '\t' && !isBreak(sr, j) {
			next()
		}
		for j < len(sr) && (sr[j] == ' ' || sr[j] == '\t') {
			next()
		}
	}
	style := d.styles[field]
	switch {
	case style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0:
		next() // the quote
	case style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		for j < len(sr) && l == at.Line { // the header line
			next()
		}
	}
	for i := 0; i <= target; i++ {
		// skip what the value does not hold: indentation, line breaks
		// folded away, escapes and doubled quotes
		for {
			if j >= len(sr) {
				return Pos{}, false
			}
			s := sr[j]
			if s == vr[i] || (vr[i] == ' ' || vr[i] == '\n') && isBreak(sr, j) {
				break
			}
			if i == target && s == '\\' {
				break // an escape: the character starts here
			}
			switch s {
			case ' ', '\t', '\r', '\\', '\'', '"':
			default:
				if !isBreak(sr, j) {
					return Pos{}, false
				}
			}
			next()
		}
		if i == target {
			return Pos{Line: l, Col: c}, true
		}
		next()
	}
	return Pos{}, false
}

// isBreak is whether s[j] ends a line as YAML counts lines (\r\n once).
func isBreak(s []rune, j int) bool {
	switch s[j] {
	case '\n', '\u0085', '\u2028', '\u2029':
		return true
	case '\r':
		return j+1 >= len(s) || s[j+1] != '\n'
	}
	return false
}
