package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The real clock, connections and echo server around the pure core.

// realClock reads the run's monotonic clock and waits on a timerfd of its own, read
// through Go's poller. Why not time.Sleep: with network connections open, the runtime
// waits for timers in epoll with millisecond resolution, so a 200 µs sleep takes about
// 1 ms (measured: 0.9-1.0 ms late, median); a timerfd wakes the poller on time (30-40 µs
// late, median, most of it the wake-up itself). Latency from the intended send time
// includes that lateness; the generator against its own echo server shows how much.
type realClock struct {
	base  time.Time
	timer *os.File
}

const clockMonotonic = 1

type itimerspec struct{ interval, value syscall.Timespec }

func newRealClock(base time.Time) (*realClock, error) {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic,
		syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("timerfd_create: %v", errno)
	}
	return &realClock{base: base, timer: os.NewFile(fd, "timerfd")}, nil
}

func (c *realClock) Now() int64 { return int64(time.Since(c.base)) }

func (c *realClock) SleepUntil(t int64) error {
	wait := t - c.Now()
	if wait <= 0 {
		return nil
	}
	raw, err := c.timer.SyscallConn()
	if err != nil {
		return err
	}
	spec := itimerspec{value: syscall.NsecToTimespec(wait)}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0,
			uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	}); err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("timerfd_settime: %v", errno)
	}
	var expirations [8]byte
	_, err = c.timer.Read(expirations[:])
	return err
}

// link is one connection of the generator and its clock; conn is nil once it failed.
type link struct {
	conn  net.Conn
	clock *realClock
	sent  byte
	reply [1]byte
}

// Exchange writes one byte and reads its echo: a byte other than the one sent is an error.
func (l *link) Exchange(deadline int64) (int64, error) {
	l.sent = 'a' + (l.sent-'a'+1)%26
	if err := l.conn.SetDeadline(l.clock.base.Add(time.Duration(deadline))); err != nil {
		return 0, err
	}
	l.reply[0] = l.sent
	if _, err := l.conn.Write(l.reply[:]); err != nil {
		return 0, ioError(err)
	}
	if _, err := l.conn.Read(l.reply[:]); err != nil {
		return 0, ioError(err)
	}
	if l.reply[0] != l.sent {
		return 0, fmt.Errorf("echoed %q for %q", l.reply[0], l.sent)
	}
	return l.clock.Now(), nil
}

func ioError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errTimeout
	}
	return err
}

// generator holds the K connections across phases and ends them all on stop.
type generator struct {
	addr    string
	base    time.Time
	timeout time.Duration
	links   []*link
	mu      sync.Mutex
	stopped string // why the run was stopped early ("signal", "time bound"), or ""
}

func newGenerator(addr string, k int, timeout time.Duration) (*generator, error) {
	g := &generator{addr: addr, base: time.Now(), timeout: timeout}
	for i := 0; i < k; i++ {
		clock, err := newRealClock(g.base)
		if err != nil {
			g.stop("")
			return nil, err
		}
		g.links = append(g.links, &link{clock: clock, sent: 'a'})
	}
	if failed, last := g.redial(); failed > 0 {
		g.stop("")
		return nil, fmt.Errorf("could not connect %d of %d connections to %s (last: %v)", failed, k, addr, last)
	}
	return g, nil
}

func (g *generator) now() int64 { return int64(time.Since(g.base)) }

// redial connects every link without a connection, all within one timeout; it returns
// how many could not be connected, and the last error (what the kernel said, such as
// "cannot assign requested address": no local port was free).
func (g *generator) redial() (int, error) {
	dialer := net.Dialer{Deadline: time.Now().Add(g.timeout)}
	failed := 0
	var last error
	for _, l := range g.links {
		if l.conn != nil {
			continue
		}
		conn, err := dialer.Dial("tcp", g.addr)
		g.mu.Lock()
		if err == nil && g.stopped != "" {
			conn.Close()
			err = errors.New("stopped")
		}
		if err == nil {
			l.conn = conn
		}
		g.mu.Unlock()
		if err != nil {
			failed++
			last = err
		}
	}
	return failed, last
}

// stop ends the run: every connection and timer is closed, so every wait returns.
func (g *generator) stop(why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped == "" {
		g.stopped = why
	}
	for _, l := range g.links {
		if l.conn != nil {
			l.conn.Close()
		}
		l.clock.timer.Close()
	}
}

func (g *generator) stopReason() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// lead: a phase starts this long after it is planned, so that every connection's
// goroutine is waiting before the first intended send time.
const lead = 5 * time.Millisecond

// phase runs one phase on every link, each with a recorder of its own, and merges them.
// Links that failed are dialled again first; run is called with a nil conn for one that
// cannot be (it sends nothing).
func (g *generator) phase(duration time.Duration, intervals int,
	run func(l *link, conn int, start int64, rec *Recorder) bool) *Recorder {
	g.redial()
	start := g.now() + int64(lead)
	total := NewRecorder(start, int64(duration), intervals)
	records := make([]*Recorder, len(g.links))
	var wg sync.WaitGroup
	for i, l := range g.links {
		records[i] = NewRecorder(start, int64(duration), intervals)
		wg.Add(1)
		go func(i int, l *link) {
			defer wg.Done()
			if !run(l, i, start, records[i]) && l.conn != nil {
				g.mu.Lock()
				l.conn.Close()
				l.conn = nil
				g.mu.Unlock()
			}
		}(i, l)
	}
	wg.Wait()
	for _, r := range records {
		total.Merge(r)
	}
	return total
}

// open runs one open-loop step at rate; requests not sent by the step's end plus one
// timeout are left unsent. A link that could not be connected fails its first request
// (an error) and leaves the others unsent.
func (g *generator) open(rate float64, duration time.Duration, intervals int) *Recorder {
	return g.phase(duration, intervals, func(l *link, conn int, start int64, rec *Recorder) bool {
		s := Schedule{Start: start, Rate: rate, Conns: len(g.links), Duration: int64(duration)}
		if l.conn == nil {
			if n := s.Count(conn); n > 0 {
				rec.Errors++
				rec.Unsent += n - 1
			}
			return false
		}
		return openLoop(l.clock, l, s, conn, int64(g.timeout), s.Start+s.Duration+int64(g.timeout), rec)
	})
}

// closed runs the links back to back for duration.
func (g *generator) closed(duration time.Duration, intervals int) *Recorder {
	return g.phase(duration, intervals, func(l *link, conn int, start int64, rec *Recorder) bool {
		if l.conn == nil {
			rec.Errors++
			return false
		}
		return closedLoop(l.clock, l, start, start+int64(duration), int64(g.timeout), rec)
	})
}
