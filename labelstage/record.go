package labelstage

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/segstream/segstream/label"
	"github.com/valyala/fastjson"
)

// The label record is a hash (keyspace.Keys.Label): ver, doc (the label
// document as JSON, "null" when erased), changes (JSON list, the changes
// that lead to ver, kept until published), state (the segmenter's),
// erased ("1"/"0") and published (the highest version Kafka acknowledged,
// raised only by keyspace.MarkPublished). Writes are compare-and-set on ver
// (keyspace.LabelCAS).

// parseRecord decodes a label hash (empty: no record yet).
func parseRecord(m map[string]string) (label.Record, error) {
	r := parseMarks(m)
	if s := m["doc"]; s != "" && s != "null" {
		r.Doc = &label.Doc{}
		if err := json.Unmarshal([]byte(s), r.Doc); err != nil {
			return r, fmt.Errorf("label record: doc: %w", err)
		}
	}
	if s := m["changes"]; s != "" {
		if err := json.Unmarshal([]byte(s), &r.Changes); err != nil {
			return r, fmt.Errorf("label record: changes: %w", err)
		}
	}
	return r, nil
}

// parseMarks decodes the small fields of a label hash: the version, the
// published mark, the erased marker and the segmenter's state.
func parseMarks(m map[string]string) label.Record {
	var r label.Record
	r.Version, _ = strconv.ParseInt(m["ver"], 10, 64)
	r.Published, _ = strconv.ParseInt(m["published"], 10, 64)
	r.Erased = m["erased"] == "1"
	if s := m["state"]; s != "" {
		r.State = []byte(s)
	}
	return r
}

// evalParsers parse the stored document on the evaluation path.
var evalParsers fastjson.ParserPool

// parseForEvaluate decodes what an evaluation needs of a label hash, and
// no more: the version marks, the state, the current segments (read from
// the stored document without decoding it whole) and, only when they wait
// to be published, the changes to carry over. The Doc it returns holds
// only Segments: it feeds label.Next and is never written back (a
// state-only outcome writes the state alone, keyspace.LabelState).
func parseForEvaluate(m map[string]string) (label.Record, error) {
	r := parseMarks(m)
	if s := m["doc"]; s != "" && s != "null" {
		p := evalParsers.Get()
		defer evalParsers.Put(p)
		v, err := p.Parse(s)
		if err != nil {
			return r, fmt.Errorf("label record: doc: %w", err)
		}
		segs := v.GetArray("segments")
		r.Doc = &label.Doc{Segments: make([]string, 0, len(segs))}
		for _, sv := range segs {
			b, err := sv.StringBytes()
			if err != nil {
				return r, fmt.Errorf("label record: doc.segments: %w", err)
			}
			r.Doc.Segments = append(r.Doc.Segments, string(b))
		}
	}
	if s := m["changes"]; s != "" && r.Unpublished() {
		if err := json.Unmarshal([]byte(s), &r.Changes); err != nil {
			return r, fmt.Errorf("label record: changes: %w", err)
		}
	}
	return r, nil
}

// casArgs are keyspace.LabelCAS's arguments to replace a record of
// version expect by r, with r's history entry (keeping the newest keep).
func casArgs(expect int64, r label.Record, keep int) ([]any, error) {
	doc, err := json.Marshal(r.Doc)
	if err != nil {
		return nil, err
	}
	changes := r.Changes
	if changes == nil {
		changes = []label.Change{}
	}
	ch, err := json.Marshal(changes)
	if err != nil {
		return nil, err
	}
	erased := "0"
	if r.Erased {
		erased = "1"
	}
	var hist []byte
	if e := label.HistoryOf(r); e != nil && !r.Erased {
		if hist, err = json.Marshal(e); err != nil {
			return nil, err
		}
	}
	return []any{expect, r.Version, doc, ch, r.State, erased, hist, keep}, nil
}
