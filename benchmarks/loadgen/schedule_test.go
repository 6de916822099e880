package main

import (
	"sort"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestTheScheduleSpreadsTheRateOverStaggeredConnections(t *testing.T) {
	s := Schedule{Start: 7 * ms, Rate: 1000, Conns: 3, Duration: 1000 * ms}
	if s.Total() != 1000 || s.Count(0) != 334 || s.Count(1) != 333 || s.Count(2) != 333 {
		t.Fatalf("total %d, counts %d %d %d", s.Total(), s.Count(0), s.Count(1), s.Count(2))
	}
	var all []int64
	for c := 0; c < 3; c++ {
		if first := s.Intended(c, 0); first != s.Start+int64(c)*ms {
			t.Fatalf("connection %d starts at %d, not %d ms after the start", c, first-s.Start, c)
		}
		for i := int64(0); i < s.Count(c); i++ {
			at := s.Intended(c, i)
			if i > 0 && at-s.Intended(c, i-1) != 3*ms {
				t.Fatalf("connection %d: requests %d and %d are %d ns apart, not 3 ms", c, i-1, i, at-s.Intended(c, i-1))
			}
			all = append(all, at)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for n, at := range all {
		if at != s.Start+int64(n)*ms {
			t.Fatalf("request %d overall is meant for %d ns, not %d ms after the start", n, at-s.Start, n)
		}
	}

	// 2,000/s over 16 connections: each sends every 8 ms, 0.5 ms after the one before
	s = Schedule{Rate: 2000, Conns: 16, Duration: 2000 * ms}
	if s.Total() != 4000 || s.Count(15) != 250 || s.Intended(15, 0) != 15*ms/2 || s.Intended(3, 1) != 8*ms+3*ms/2 {
		t.Fatalf("2000/s over 16: total %d, count %d, %d, %d", s.Total(), s.Count(15), s.Intended(15, 0), s.Intended(3, 1))
	}
	// a rate that does not divide the step: every request meant inside it, none left out
	s = Schedule{Rate: 333.3, Conns: 4, Duration: 1000 * ms}
	sum := int64(0)
	for c := 0; c < 4; c++ {
		sum += s.Count(c)
		if last := s.Intended(c, s.Count(c)-1); last >= s.Duration {
			t.Fatalf("connection %d's last request is meant after the step", c)
		}
		if next := s.Intended(c, s.Count(c)); next < s.Duration {
			t.Fatalf("connection %d leaves out a request meant inside the step", c)
		}
	}
	if sum != 334 || s.Total() != 334 {
		t.Fatalf("333.3/s for 1 s: %d requests, total %d", sum, s.Total())
	}
	// more connections than requests
	s = Schedule{Rate: 2, Conns: 5, Duration: 1000 * ms}
	if s.Count(0) != 1 || s.Count(1) != 1 || s.Count(2) != 0 {
		t.Fatalf("2 requests over 5 connections: %d %d %d", s.Count(0), s.Count(1), s.Count(2))
	}
}

// fakeClock and stallServer run a connection with no real time: the server answers a
// request after service, except that a request arriving during [stallFrom, stallTo) waits
// for stallTo. Each connection has a clock of its own: the server's answer depends on
// the time alone, not on the other connections.
type fakeClock struct{ now int64 }

func (c *fakeClock) Now() int64 { return c.now }

func (c *fakeClock) SleepUntil(t int64) error {
	c.now = max(c.now, t)
	return nil
}

type stallServer struct {
	clock                       *fakeClock
	service, stallFrom, stallTo int64
	arrivals                    []int64
}

func (s *stallServer) Exchange(deadline int64) (int64, error) {
	arrive := s.clock.now
	s.arrivals = append(s.arrivals, arrive)
	begin := arrive
	if arrive >= s.stallFrom && arrive < s.stallTo {
		begin = s.stallTo
	}
	if reply := begin + s.service; reply <= deadline {
		s.clock.now = reply
		return reply, nil
	}
	s.clock.now = deadline
	return 0, errTimeout
}

// measure runs k connections against a server that stalls 100 ms one second in, open
// loop at rate (closed loop when rate is 0) for two seconds.
func measure(rate float64, k int, record func(r *Recorder, intended, sent, received int64)) (*Recorder, [][]int64) {
	const service, timeout = 20 * int64(time.Microsecond), 1000 * ms
	s := Schedule{Start: 0, Rate: rate, Conns: k, Duration: 2000 * ms}
	total := NewRecorder(0, s.Duration, 4)
	var arrivals [][]int64
	for c := 0; c < k; c++ {
		clock := &fakeClock{}
		server := &stallServer{clock: clock, service: service, stallFrom: 1000 * ms, stallTo: 1100 * ms}
		rec := NewRecorder(0, s.Duration, 4)
		if rate > 0 {
			openLoop(clock, server, s, c, timeout, s.Duration+timeout, rec)
		} else {
			closedLoop(clock, server, 0, s.Duration, timeout, rec)
		}
		total.Merge(rec)
		arrivals = append(arrivals, server.arrivals)
	}
	return total, arrivals
}

func TestAnOpenLoopShowsAStallThatAClosedLoopHides(t *testing.T) {
	open, arrivals := measure(2000, 4, nil)
	if open.Count != 4000 || open.Errors+open.Timeouts+open.Unsent != 0 {
		t.Fatalf("open loop: %d replies, %d errors, %d timeouts, %d unsent", open.Count, open.Errors, open.Timeouts, open.Unsent)
	}
	// 4 requests were sent during the stall, but about 200 were meant for it: they wait
	// up to 100 ms from their intended time, 5% of the step
	if p99 := open.Latency.ValueAtPercentile(99); p99 < 50*ms {
		t.Errorf("open loop p99 %.3f ms hides the 100 ms stall", float64(p99)/1e6)
	}
	if max := open.Latency.Max(); max < 99*ms || max > 101*ms {
		t.Errorf("open loop max %.3f ms, not the stall", float64(max)/1e6)
	}
	if p50 := open.Latency.ValueAtPercentile(50); p50 > ms {
		t.Errorf("open loop p50 %.3f ms: the server is quick outside its stall", float64(p50)/1e6)
	}
	// a connection behind its schedule sends at once: after the stall, back to back
	after := arrivals[0]
	i := sort.Search(len(after), func(i int) bool { return after[i] >= 1100*ms })
	if after[i] != 1100*ms+20*int64(time.Microsecond) || after[i+1]-after[i] != 20*int64(time.Microsecond) {
		t.Errorf("after the stall connection 0 sent at %d and %d ns", after[i], after[i+1])
	}
	if lag := open.Lag.Max(); lag < 95*ms {
		t.Errorf("the late requests were sent on time? send lag max %d", lag)
	}
	// per-interval rates: every request answered, in the half-second it was meant for
	for slot, c := range open.PerInterval {
		if c < 900 || c > 1100 {
			t.Errorf("interval %d: %d replies, not about 1000", slot, c)
		}
	}

	closed, _ := measure(0, 4, nil)
	if closed.Count < 100_000 {
		t.Fatalf("closed loop: only %d replies", closed.Count)
	}
	// each connection waited once, and its next request went out after the stall: one
	// slow request in 100,000
	if p99 := closed.Latency.ValueAtPercentile(99); p99 > ms {
		t.Errorf("closed loop p99 %.3f ms: it should hide the stall", float64(p99)/1e6)
	}
	if max := closed.Latency.Max(); max < 99*ms {
		t.Errorf("closed loop max %.3f ms: the stalled request itself is missing", float64(max)/1e6)
	}
}

func TestATimeoutEndsTheStepForItsConnectionAndCountsWhatWasNotSent(t *testing.T) {
	const timeout = 50 * ms
	s := Schedule{Rate: 100, Conns: 2, Duration: 1000 * ms}
	total := NewRecorder(0, s.Duration, 2)
	for c := 0; c < 2; c++ {
		clock := &fakeClock{}
		server := &stallServer{clock: clock, service: ms, stallFrom: 500 * ms, stallTo: 700 * ms}
		rec := NewRecorder(0, s.Duration, 2)
		if ok := openLoop(clock, server, s, c, timeout, s.Duration+timeout, rec); ok {
			t.Fatalf("connection %d: a timeout leaves the connection usable", c)
		}
		if clock.now != 500*ms+int64(c)*10*ms+timeout {
			t.Fatalf("connection %d gave up at %d ns, not one timeout after its request", c, clock.now)
		}
		total.Merge(rec)
	}
	// each connection: 25 replies before the stall, one timeout, 24 never sent
	if total.Count != 50 || total.Timeouts != 2 || total.Unsent != 48 || total.Errors != 0 {
		t.Fatalf("%d replies, %d timeouts, %d unsent, %d errors", total.Count, total.Timeouts, total.Unsent, total.Errors)
	}
	if total.Count+total.Timeouts+total.Unsent != s.Total() {
		t.Fatal("requests unaccounted for")
	}
}

func TestAchievedRateCountsUntilTheLastReply(t *testing.T) {
	r := NewRecorder(0, 1000*ms, 1)
	r.Reply(0, 0, 10*ms)
	if r.Elapsed(1000*ms) != 1000*ms {
		t.Fatal("a phase is at least its planned length")
	}
	r.Reply(900*ms, 900*ms, 1250*ms)
	if r.Elapsed(1000*ms) != 1250*ms || r.PerInterval[0] != 2 {
		t.Fatalf("elapsed %d, intervals %v", r.Elapsed(1000*ms), r.PerInterval)
	}
}
