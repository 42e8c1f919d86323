package featurestore

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/segstream/segstream/events"
)

// Stored record layout (one Redis string per user):
//
//	[0:8]  Rev, big-endian (the Lua compare-and-set compares these 8 bytes)
//	[8]    codecVersion
//	[9:]   fields as (u)varints and length-prefixed strings, in the order of
//	       Profile's declaration; counts per type are a presence bitmask then
//	       the non-zero values. Days are delta-encoded.
//
// The encoding is compact (Redis memory per profile is a target) and
// deterministic (the same profile always gives the same bytes).
//
// Version 2 adds the reviews with a sentiment and the negative ones to each
// bucket (two more entries of its counts bitmask, nothing when zero) and the
// declared language to each text. Version 1 records still read.
const codecVersion = 2

// bucketCounts is a bucket's counts bitmask: the events per type, then
// ReviewsScored and ReviewsNegative.
const bucketCounts = events.NumTypes + 2

const revBytes = 8

// Marshal encodes p (including p.Rev).
func Marshal(p *Profile) []byte {
	b := make([]byte, revBytes, 256+len(p.Texts)*64+len(p.Buckets)*12)
	binary.BigEndian.PutUint64(b, p.Rev)
	b = append(b, codecVersion)
	b = appendString(b, p.UserID)
	b = binary.AppendVarint(b, p.FirstSeen)
	b = binary.AppendVarint(b, p.LastSeen-p.FirstSeen)
	b = appendCounts64(b, p.Counts[:])
	b = binary.AppendUvarint(b, uint64(len(p.Buckets)))
	var prev int32
	for i := range p.Buckets {
		bk := &p.Buckets[i]
		b = binary.AppendVarint(b, int64(bk.Day-prev))
		prev = bk.Day
		var c [bucketCounts]uint32
		copy(c[:], bk.Counts[:])
		c[events.NumTypes], c[events.NumTypes+1] = bk.ReviewsScored, bk.ReviewsNegative
		b = appendCounts32(b, c[:])
		b = binary.AppendVarint(b, bk.SpendCents)
		b = binary.AppendVarint(b, bk.RefundCents)
	}
	b = binary.AppendVarint(b, p.SpendCents)
	b = binary.AppendVarint(b, p.RefundCents)
	b = binary.AppendVarint(b, p.UnitsBought)
	b = binary.AppendVarint(b, p.FirstPurchase)
	b = binary.AppendVarint(b, p.LastPurchase-p.FirstPurchase)
	b = binary.AppendUvarint(b, uint64(len(p.PurchaseDays)))
	prev = 0
	for _, d := range p.PurchaseDays {
		b = binary.AppendVarint(b, int64(d-prev))
		prev = d
	}
	b = binary.AppendUvarint(b, uint64(p.PurchaseDaysDropped))
	b = binary.AppendUvarint(b, uint64(p.RatingCount))
	b = binary.AppendUvarint(b, uint64(p.RatingSum))
	b = binary.AppendUvarint(b, uint64(len(p.Categories)))
	for _, c := range p.Categories {
		b = appendString(b, c.Category)
		b = binary.AppendUvarint(b, c.Count)
		b = binary.AppendUvarint(b, c.Err)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Texts)))
	for _, t := range p.Texts {
		b = binary.AppendVarint(b, t.TS)
		b = append(b, byte(t.Kind))
		b = appendString(b, t.Text)
		b = appendString(b, t.Lang)
	}
	b = binary.LittleEndian.AppendUint64(b, p.TextHash)
	b = binary.AppendUvarint(b, uint64(len(p.Sources)))
	for _, s := range p.Sources {
		b = appendString(b, s.Source)
		b = binary.AppendVarint(b, s.Offset)
	}
	b = binary.AppendUvarint(b, uint64(len(p.RecentIDs)))
	for _, h := range p.RecentIDs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	b = binary.AppendUvarint(b, uint64(p.RecentPos))
	b = binary.AppendVarint(b, p.ErasedAt)
	return b
}

// Unmarshal decodes a stored record. It never panics on corrupt input.
func Unmarshal(data []byte) (*Profile, error) { return unmarshal(data, false) }

// unmarshalShared is Unmarshal with the profile's strings pointing into
// data instead of copies of it (its texts, categories, sources: most of a
// decode's allocations). data must never change afterwards: the store
// passes the records it read from Redis or its cache, which nothing
// writes to.
func unmarshalShared(data []byte) (*Profile, error) { return unmarshal(data, true) }

func unmarshal(data []byte, shared bool) (*Profile, error) {
	if len(data) < revBytes+1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptProfile, len(data))
	}
	r := reader{b: data[revBytes+1:], shared: shared}
	v := data[revBytes]
	if v < 1 || v > codecVersion {
		return nil, fmt.Errorf("%w: codec version %d, this build reads 1 to %d", ErrCorruptProfile, v, codecVersion)
	}
	p := &Profile{Rev: binary.BigEndian.Uint64(data)}
	p.UserID = r.str()
	p.FirstSeen = r.varint()
	p.LastSeen = p.FirstSeen + r.varint()
	r.counts64(p.Counts[:])
	if n := r.count(4); n > 0 {
		p.Buckets = make([]Bucket, n)
		var prev int32
		for i := range p.Buckets {
			bk := &p.Buckets[i]
			bk.Day = prev + int32(r.varint())
			prev = bk.Day
			if v >= 2 {
				var c [bucketCounts]uint32
				r.counts32(c[:])
				copy(bk.Counts[:], c[:])
				bk.ReviewsScored, bk.ReviewsNegative = c[events.NumTypes], c[events.NumTypes+1]
			} else {
				r.counts32(bk.Counts[:])
			}
			bk.SpendCents = r.varint()
			bk.RefundCents = r.varint()
		}
	}
	p.SpendCents = r.varint()
	p.RefundCents = r.varint()
	p.UnitsBought = r.varint()
	p.FirstPurchase = r.varint()
	p.LastPurchase = p.FirstPurchase + r.varint()
	if n := r.count(1); n > 0 {
		p.PurchaseDays = make([]int32, n)
		var prev int32
		for i := range p.PurchaseDays {
			p.PurchaseDays[i] = prev + int32(r.varint())
			prev = p.PurchaseDays[i]
		}
	}
	p.PurchaseDaysDropped = uint32(r.uvarint())
	p.RatingCount = uint32(r.uvarint())
	p.RatingSum = uint32(r.uvarint())
	if n := r.count(3); n > 0 {
		p.Categories = make([]CategoryCount, n)
		for i := range p.Categories {
			p.Categories[i] = CategoryCount{Category: r.str(), Count: r.uvarint(), Err: r.uvarint()}
		}
	}
	if n := r.count(3); n > 0 {
		p.Texts = make([]TextEntry, n)
		for i := range p.Texts {
			p.Texts[i] = TextEntry{TS: r.varint(), Kind: TextKind(r.byte()), Text: r.str()}
			if v >= 2 {
				p.Texts[i].Lang = r.str()
			}
		}
	}
	p.TextHash = r.u64()
	if n := r.count(2); n > 0 {
		p.Sources = make([]SourceMark, n)
		for i := range p.Sources {
			p.Sources[i] = SourceMark{Source: r.str(), Offset: r.varint()}
		}
	}
	if n := r.count(8); n > 0 {
		p.RecentIDs = make([]uint64, n)
		for i := range p.RecentIDs {
			p.RecentIDs[i] = r.u64()
		}
	}
	p.RecentPos = uint16(r.uvarint())
	p.ErasedAt = r.varint()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptProfile, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptProfile, len(r.b))
	}
	return p, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendCounts64(b []byte, c []uint64) []byte {
	var mask uint64
	for i, v := range c {
		if v != 0 {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for _, v := range c {
		if v != 0 {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

func appendCounts32(b []byte, c []uint32) []byte {
	var mask uint64
	for i, v := range c {
		if v != 0 {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for _, v := range c {
		if v != 0 {
			b = binary.AppendUvarint(b, uint64(v))
		}
	}
	return b
}

type reader struct {
	b      []byte
	err    error
	shared bool // strings point into b (see unmarshalShared)
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or invalid %s", what)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail("uint64")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads a length and checks it against the bytes left (each element
// takes at least minBytes), so corrupt input cannot cause huge allocations.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minBytes) {
		r.fail("length")
		return 0
	}
	return int(n)
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	var s string
	switch {
	case n == 0:
	case r.shared:
		s = unsafe.String(&r.b[0], int(n))
	default:
		s = string(r.b[:n])
	}
	r.b = r.b[n:]
	return s
}

func (r *reader) counts64(dst []uint64) {
	mask := r.uvarint()
	for i := range dst {
		if mask&(1<<i) != 0 {
			dst[i] = r.uvarint()
		}
	}
}

func (r *reader) counts32(dst []uint32) {
	mask := r.uvarint()
	for i := range dst {
		if mask&(1<<i) != 0 {
			dst[i] = uint32(r.uvarint())
		}
	}
}
