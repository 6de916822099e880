package main

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(1, min(rank, len(sorted)))-1]
}

var percentiles = []float64{0.1, 1, 10, 50, 90, 99, 99.9, 99.99, 100}

func TestPercentilesAreWithinOneBucketOfTheExactOnes(t *testing.T) {
	random := rand.New(rand.NewSource(26))
	distributions := map[string]func() int64{
		"small exact values": func() int64 { return random.Int63n(300) },
		"uniform to 1 ms":    func() int64 { return random.Int63n(1_000_000) },
		"exponential 50 µs":  func() int64 { return int64(random.ExpFloat64() * 50_000) },
		"lognormal":          func() int64 { return int64(math.Exp(random.NormFloat64()*2 + 11)) },
		"bimodal: 1% stall": func() int64 {
			if random.Intn(100) == 0 {
				return 100_000_000 + random.Int63n(1_000_000)
			}
			return 20_000 + random.Int63n(5_000)
		},
		"huge values": func() int64 { return math.MaxInt64 - random.Int63n(1<<40) },
	}
	for name, draw := range distributions {
		for _, n := range []int{1, 7, 1000, 100_000} {
			h := NewHistogram()
			values := make([]int64, n)
			for i := range values {
				values[i] = draw()
				h.Record(values[i])
			}
			sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
			if h.Count() != int64(n) || h.Max() != values[n-1] || h.Min() != values[0] {
				t.Fatalf("%s, %d values: count %d min %d max %d", name, n, h.Count(), h.Min(), h.Max())
			}
			for _, p := range percentiles {
				got, want := h.ValueAtPercentile(p), exactPercentile(values, p)
				// the design's bound, 1/256 (0.4%): a bucket's midpoint; well inside 1%
				if diff := math.Abs(float64(got) - float64(want)); diff > float64(want)/256 {
					t.Errorf("%s, %d values: p%g = %d, exact %d (%.3f%% off)",
						name, n, p, got, want, 100*diff/float64(want))
				}
			}
		}
	}
}

func TestBucketsTileTheValuesAndStayNarrow(t *testing.T) {
	_, high := bucketRange(0)
	for i := 1; i < bucketCount; i++ {
		low, next := bucketRange(i)
		if low != high+1 {
			t.Fatalf("bucket %d starts at %d, the one before ends at %d", i, low, high)
		}
		if width := next - low + 1; width > max(1, low/subCount) {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its values", i, low, next, subCount)
		}
		high = next
	}
	if high != math.MaxInt64 {
		t.Fatalf("the last bucket ends at %d", high)
	}
	random := rand.New(rand.NewSource(1))
	for i := 0; i < 100_000; i++ {
		v := random.Int63() >> uint(random.Intn(63))
		for _, value := range []int64{v, v + 1, v - 1} {
			if value < 0 {
				continue
			}
			low, high := bucketRange(bucketOf(value))
			if value < low || value > high {
				t.Fatalf("%d falls in bucket %d = [%d, %d]", value, bucketOf(value), low, high)
			}
		}
	}
}

func TestMergeIsRecordingEverythingInOne(t *testing.T) {
	random := rand.New(rand.NewSource(2))
	all, a, b := NewHistogram(), NewHistogram(), NewHistogram()
	for i := 0; i < 10_000; i++ {
		v := int64(random.ExpFloat64() * 1e6)
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b)
	a.Merge(NewHistogram())
	for _, p := range percentiles {
		if a.ValueAtPercentile(p) != all.ValueAtPercentile(p) {
			t.Fatalf("p%g: merged %d, one histogram %d", p, a.ValueAtPercentile(p), all.ValueAtPercentile(p))
		}
	}
	if a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatal("merged count, min or max differ")
	}
	empty := NewHistogram()
	if empty.ValueAtPercentile(99) != 0 {
		t.Fatal("an empty histogram's percentile is not 0")
	}
	empty.Record(-5)
	if empty.Max() != 0 || empty.ValueAtPercentile(50) != 0 {
		t.Fatal("a negative value is not counted as 0")
	}
}
