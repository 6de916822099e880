package main

import (
	"errors"
	"math"
)

// The pure core: when each request is meant to be sent, and what is recorded when its
// reply arrives. Every time is an input (nanoseconds on the run's clock), so the tests
// drive it with a fake clock and a fake server; net.go drives it with real ones.

// Schedule is the fixed plan of one open-loop step: Rate requests per second spread over
// Conns connections and staggered, the n-th request overall (n = i x Conns + conn) meant
// for Start + n/Rate. Connection conn sends its i-th request at Intended(conn, i): one
// every Conns/Rate seconds, conn/Rate after connection 0. The step holds the requests
// meant before Start + Duration: Total of them.
type Schedule struct {
	Start    int64
	Rate     float64 // requests per second, all connections together
	Conns    int
	Duration int64
}

func (s Schedule) Total() int64 {
	return int64(math.Ceil(s.Rate * (float64(s.Duration) / 1e9)))
}

// Count is how many of the step's requests connection conn sends.
func (s Schedule) Count(conn int) int64 {
	total, k, c := s.Total(), int64(s.Conns), int64(conn)
	if c >= total {
		return 0
	}
	return (total - c + k - 1) / k
}

func (s Schedule) Intended(conn int, i int64) int64 {
	n := i*int64(s.Conns) + int64(conn)
	return s.Start + int64(float64(n)*1e9/s.Rate)
}

// Recorder collects what one connection saw during one phase (merged over connections at
// the end): each reply's latency from its intended send time, the send lag (actual send
// minus intended), replies per interval of the phase (by arrival; the last interval also
// takes the replies that arrive after the phase's end), and the requests that failed.
type Recorder struct {
	Start, IntervalLen int64
	Latency, Lag       *Histogram
	PerInterval        []int64
	// Every request of a schedule is one of these (Count+Errors+Timeouts+Unsent = Total):
	Count     int64 // replies received
	Errors    int64 // failed: no connection, refused, reset, closed, a wrong byte
	Timeouts  int64 // no reply in time; ends the phase for its connection
	Unsent    int64 // never sent: their connection had failed, or the drain was over
	LastReply int64
}

func NewRecorder(start, duration int64, intervals int) *Recorder {
	return &Recorder{Start: start, IntervalLen: duration / int64(intervals),
		Latency: NewHistogram(), Lag: NewHistogram(), PerInterval: make([]int64, intervals)}
}

// Reply records a request meant for intended, sent at sent, answered at received. A
// closed loop has no schedule: its requests are meant when they are sent.
func (r *Recorder) Reply(intended, sent, received int64) {
	r.Latency.Record(received - intended)
	r.Lag.Record(sent - intended)
	slot := (received - r.Start) / r.IntervalLen
	r.PerInterval[max(0, min(slot, int64(len(r.PerInterval)-1)))]++
	r.Count++
	r.LastReply = max(r.LastReply, received)
}

func (r *Recorder) Merge(other *Recorder) {
	r.Latency.Merge(other.Latency)
	r.Lag.Merge(other.Lag)
	for i, c := range other.PerInterval {
		r.PerInterval[i] += c
	}
	r.Count += other.Count
	r.Errors += other.Errors
	r.Timeouts += other.Timeouts
	r.Unsent += other.Unsent
	r.LastReply = max(r.LastReply, other.LastReply)
}

// Elapsed is the phase's length for its achieved rate: its planned duration, or until
// the last reply if that came later.
func (r *Recorder) Elapsed(duration int64) int64 {
	return max(duration, r.LastReply-r.Start)
}

// A Clock tells the time and waits for one; an Exchanger sends one request and waits for
// its reply until deadline, returning the time the reply arrived.
type Clock interface {
	Now() int64
	SleepUntil(t int64) error
}

type Exchanger interface {
	Exchange(deadline int64) (int64, error)
}

var errTimeout = errors.New("no reply in time")

// failed counts a failed exchange; the connection is finished for this phase.
func (r *Recorder) failed(err error) {
	if errors.Is(err, errTimeout) {
		r.Timeouts++
	} else {
		r.Errors++
	}
}

// openLoop sends connection conn's requests of the schedule, each at its intended time
// or at once if the connection is behind, waits for each reply at most timeout after it
// was sent and never past deadline (the step's end plus a drain), and records each from
// its intended time. It returns false when the connection failed (it must be replaced).
func openLoop(clock Clock, x Exchanger, s Schedule, conn int, timeout, deadline int64, rec *Recorder) bool {
	n := s.Count(conn)
	for i := int64(0); i < n; i++ {
		intended := s.Intended(conn, i)
		if clock.Now() < intended {
			if err := clock.SleepUntil(intended); err != nil {
				rec.Errors++
				rec.Unsent += n - i - 1
				return false
			}
		}
		sent := clock.Now()
		if sent >= deadline {
			rec.Unsent += n - i
			return true
		}
		received, err := x.Exchange(min(sent+timeout, deadline))
		if err != nil {
			rec.failed(err)
			rec.Unsent += n - i - 1
			return false
		}
		rec.Reply(intended, sent, received)
	}
	return true
}

// closedLoop sends requests back to back from start until end, each as soon as the
// previous reply arrived, and records each from its actual send time.
func closedLoop(clock Clock, x Exchanger, start, end, timeout int64, rec *Recorder) bool {
	if err := clock.SleepUntil(start); err != nil {
		rec.Errors++
		return false
	}
	for {
		sent := clock.Now()
		if sent >= end {
			return true
		}
		received, err := x.Exchange(sent + timeout)
		if err != nil {
			rec.failed(err)
			return false
		}
		rec.Reply(sent, sent, received)
	}
}
