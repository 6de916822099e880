package main

import (
	"math"
	"testing"
	"time"
)

// A phase's output names each percentile from its own bucket: a recorder of 2,000
// replies whose latencies are 1 ms (1,700 of them), 3 ms (200), 5 ms (85), 20 ms (14) and
// 80 ms (1) has a p50 of 1 ms, p90 of 3 ms, p99 of 5 ms, p99.9 of 20 ms and a max of
// 80 ms, each within the histogram's 1/256 and each rank well inside its group; a p99
// read from the p90 bucket (or a p90 from the p50 one) fails here.
func TestAPhaseReportsEachPercentileFromItsOwnBucket(t *testing.T) {
	r := NewRecorder(0, 1000*ms, 5)
	add := func(n int, latency int64) {
		for i := 0; i < n; i++ {
			r.Reply(int64(i)*ms/2, int64(i)*ms/2, int64(i)*ms/2+latency)
		}
	}
	add(1700, 1*ms)
	add(200, 3*ms)
	add(85, 5*ms)
	add(14, 20*ms)
	add(1, 80*ms)
	out := summarize(r, time.Second, 0.25)
	want := []struct {
		name      string
		got, want float64
	}{{"p50", out.P50, 0.001}, {"p90", out.P90, 0.003}, {"p99", out.P99, 0.005},
		{"p999", out.P999, 0.020}, {"max", out.Max, 0.080}}
	for _, w := range want {
		if math.Abs(w.got-w.want) > w.want/256+1e-9 {
			t.Errorf("%s = %g s, want %g s", w.name, w.got, w.want)
		}
	}
	if out.Count != 2000 || out.CPUSeconds != 0.25 || len(out.IntervalRates) != 5 {
		t.Errorf("count %d, cpu %g, intervals %v", out.Count, out.CPUSeconds, out.IntervalRates)
	}
}
