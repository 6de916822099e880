package main

import "math/bits"

// Histogram counts non-negative int64 values (nanoseconds here) in log-spaced buckets,
// the way HdrHistogram does with 128 sub-buckets per power of two: a value below 256
// has a bucket of its own; a value v >= 256 falls in a bucket of width 2^e whose lower
// bound is at least 128 x 2^e. A bucket therefore spans at most 1/128 of the values in
// it, and the value reported for it (its midpoint, kept inside the exact minimum and
// maximum recorded) is within 1/256 (0.4%) of every value it holds: the relative error of
// ValueAtPercentile is at most 1/256. Any int64 fits: 7,296 buckets, 57 KiB.
type Histogram struct {
	counts   []int64
	count    int64
	min, max int64
}

const (
	subBits     = 7
	subCount    = 1 << subBits                         // sub-buckets per power of two
	exactBelow  = 2 * subCount                         // values with a bucket each
	bucketCount = exactBelow + (63-subBits-1)*subCount // up to the largest int64
)

func NewHistogram() *Histogram {
	return &Histogram{counts: make([]int64, bucketCount)}
}

// bucketOf is the index of v's bucket (v >= 0).
func bucketOf(v int64) int {
	if v < exactBelow {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - (subBits + 1) // v >> e is in [128, 256)
	return exactBelow + (e-1)*subCount + int(v>>e) - subCount
}

// bucketRange is the lowest and highest value of bucket i.
func bucketRange(i int) (int64, int64) {
	if i < exactBelow {
		return int64(i), int64(i)
	}
	j := i - exactBelow
	e := uint(j/subCount + 1)
	low := int64(j%subCount+subCount) << e
	return low, low + (int64(1) << e) - 1
}

// Record counts one value; a negative one (a clock read twice in the same tick, in the
// wrong order) counts as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
}

// Merge adds other's counts to h.
func (h *Histogram) Merge(other *Histogram) {
	if other.count == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	if h.count == 0 || other.min < h.min {
		h.min = other.min
	}
	if other.max > h.max {
		h.max = other.max
	}
	h.count += other.count
}

func (h *Histogram) Count() int64 { return h.count }
func (h *Histogram) Max() int64   { return h.max }
func (h *Histogram) Min() int64   { return h.min }

// ValueAtPercentile is the nearest-rank percentile p (0 < p <= 100): the value of rank
// ceil(p/100 x count) in sorted order, to within its bucket; 0 for an empty histogram.
func (h *Histogram) ValueAtPercentile(p float64) int64 {
	if h.count == 0 {
		return 0
	}
	rank := int64(p / 100 * float64(h.count))
	if float64(rank) < p/100*float64(h.count) {
		rank++
	}
	rank = max(1, min(rank, h.count))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, high := bucketRange(i)
			return max(h.min, min(h.max, low+(high-low)/2))
		}
	}
	return h.max
}
