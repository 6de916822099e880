// Command loadgen is parkbench's load generator for the served rate: K connections to a
// TCP server that answers each one-byte request with one byte, driven open loop at a
// list of offered rates (latency from each request's intended send time, as wrk2 does),
// then closed loop (the peak). parkbench/served.py reads its output.
//
//	loadgen -addr 127.0.0.1:PORT [-connections 16] [-rates 1000,2000,4000] [-step 2s]
//	        [-intervals 5] [-warmup 1s] [-warmup-rate R] [-closed 2s] [-timeout 1s]
//	        [-max-seconds 60]
//	loadgen -echo 127.0.0.1:0 [-max-seconds 60]
//	loadgen -addr 127.0.0.1:PORT -interactive [-connections 16] [-step 2s] [-warmup 1s] ...
//
// Phases, in order, on the same K connections: a warm-up (open loop at -warmup-rate,
// default the first rate, or closed loop when there are no rates; not recorded), one
// open-loop step per rate (rates must increase), and a closed-loop phase (-closed 0: none).
// In a step of rate R and length D, connection c sends its i-th request at the intended
// time start + (i K + c)/R if it is ready then, at once if it is behind (its previous
// reply came late), and records latency = reply time - intended time; a request waits at
// most -timeout for its reply, and never past the step's end plus one timeout (the
// drain). A timeout or an error ends the step for that connection (its remaining requests
// are "unsent"); it is connected again before the next phase. Addresses must be literal
// loopback IPs. Pinning to CPUs is the caller's (taskset, os.sched_setaffinity).
//
// Output: one JSON object on stdout (times in seconds, rates per second):
//
//	format              1
//	address, connections, timeout_seconds
//	go_version, gomaxprocs
//	warmup              null, or {seconds, offered (null: closed loop), count, errors, timeouts}
//	steps               [step...], in the order run (increasing offered rate)
//	closed              null, or a phase (below) run back to back; its latencies are from
//	                    the actual send (a closed loop has no schedule)
//	cpu_user_seconds, cpu_system_seconds   the generator's own CPU (getrusage), whole run
//	wall_seconds        the whole run
//	complete            false when stopped early; then stopped says why
//	stopped             null, "signal" (SIGTERM, SIGINT) or "time bound" (-max-seconds)
//
//	phase: seconds (planned length), count (replies), achieved (count / max(seconds,
//	       last reply - start)), errors (requests failed: no connection, reset, closed,
//	       a wrong byte), timeouts (no reply within -timeout), p50, p90, p99, p999, max (latency; from
//	       a log histogram: within 0.4%), interval_seconds, interval_rates (replies per
//	       second in each of -intervals equal parts of the phase, by arrival; the last
//	       also takes replies after the end), cpu_seconds (the generator's user+sys in it)
//	step:  a phase plus offered (the rate R), scheduled (requests meant for the step:
//	       ceil(R x seconds) = count + errors + timeouts + unsent), unsent (never sent:
//	       their connection had failed, or the drain was over), and send_lag_p50,
//	       send_lag_p99 (actual send - intended send: the generator's own lateness plus
//	       waiting for a late reply)
//
// A step interrupted by a signal or the time bound is left out. With -interactive the
// generator connects, then reads one offered rate per line from stdin and answers each
// with one JSON line, the step (after -warmup at that rate, not recorded), on the same K
// connections from step to step; end of input ends it (interact.go). -echo prints
// {"listening": "IP:port"} once it listens, serves until SIGTERM/SIGINT or -max-seconds,
// then prints {connections, bytes, cpu_user_seconds, cpu_system_seconds, stopped}.
//
// Exit status: 0 done; 1 failed (one line on stderr: cannot connect, a plan longer than
// -max-seconds); 2 bad arguments (one line on stderr); 3 stopped early by a signal or the
// time bound (one line on stderr; the JSON holds the phases completed).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func warn(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
}

func fail(status int, format string, args ...any) {
	warn(format, args...)
	os.Exit(status)
}

type options struct {
	addr, echo      string
	connections     int
	rates           []float64
	step, warmup    time.Duration
	closed, timeout time.Duration
	warmupRate      float64
	intervals       int
	maxSeconds      float64
	interactive     bool
}

func parseOptions(arguments []string) (options, error) {
	var o options
	flags := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.StringVar(&o.addr, "addr", "", "the server, IP:port on loopback")
	flags.StringVar(&o.echo, "echo", "", "serve a one-byte echo on IP:port (port 0: any) instead")
	flags.IntVar(&o.connections, "connections", 16, "connections K")
	rates := flags.String("rates", "", "offered rates per second, increasing, comma-separated")
	flags.DurationVar(&o.step, "step", 2*time.Second, "length of each open-loop step")
	flags.IntVar(&o.intervals, "intervals", 5, "parts of a phase with a rate each")
	flags.DurationVar(&o.warmup, "warmup", time.Second, "warm-up, not recorded (0: none)")
	flags.Float64Var(&o.warmupRate, "warmup-rate", 0, "warm-up rate (0: the first rate, or closed loop)")
	flags.DurationVar(&o.closed, "closed", 2*time.Second, "closed-loop phase (0: none)")
	flags.DurationVar(&o.timeout, "timeout", time.Second, "longest wait for one reply")
	flags.Float64Var(&o.maxSeconds, "max-seconds", 60, "hard bound on the whole run")
	flags.BoolVar(&o.interactive, "interactive", false, "read a rate per line from stdin, answer a step per line")
	if err := flags.Parse(arguments); err != nil {
		return o, err
	}
	if flags.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *rates != "" {
		for _, field := range strings.Split(*rates, ",") {
			rate, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil || math.IsInf(rate, 0) || math.IsNaN(rate) || rate <= 0 || rate > 1e8 {
				return o, fmt.Errorf("-rates: %q is not a rate (0 < rate <= 1e8 per second)", field)
			}
			if len(o.rates) > 0 && rate <= o.rates[len(o.rates)-1] {
				return o, errors.New("-rates must increase")
			}
			o.rates = append(o.rates, rate)
		}
	}
	switch {
	case (o.addr == "") == (o.echo == ""):
		return o, errors.New("give -addr (generate) or -echo (serve), one of them")
	case o.connections < 1 || o.connections > 10_000:
		return o, errors.New("-connections must be 1 to 10000")
	case o.intervals < 1 || o.intervals > 1000:
		return o, errors.New("-intervals must be 1 to 1000")
	case o.step <= 0 || o.timeout <= 0 || o.warmup < 0 || o.closed < 0:
		return o, errors.New("-step and -timeout must be positive, -warmup and -closed not negative")
	case o.warmupRate < 0 || o.warmupRate > 1e8 || math.IsNaN(o.warmupRate):
		return o, errors.New("-warmup-rate must be 0 to 1e8")
	case !(o.maxSeconds > 0) || o.maxSeconds > 86_400:
		return o, errors.New("-max-seconds must be positive, at most a day")
	}
	for _, addr := range []string{o.addr, o.echo} {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return o, fmt.Errorf("%q is not a loopback IP:port (the generator and server share this machine)", addr)
		}
	}
	return o, nil
}

// planned is the longest the phases may take: each phase its length plus a drain and a
// dial of one timeout each, and one more second to connect and start.
func (o options) planned() time.Duration {
	phases := len(o.rates)
	if o.warmup > 0 {
		phases++
	}
	if o.closed > 0 {
		phases++
	}
	return o.warmup + o.closed + time.Duration(len(o.rates))*o.step +
		time.Duration(phases)*(2*o.timeout+lead) + time.Second
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

func cpuTimes() (float64, float64) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, 0
	}
	return seconds(usage.Utime.Nano()), seconds(usage.Stime.Nano())
}

func cpuSeconds() float64 {
	user, system := cpuTimes()
	return user + system
}

type phaseOut struct {
	Seconds         float64   `json:"seconds"`
	Count           int64     `json:"count"`
	Achieved        float64   `json:"achieved"`
	Errors          int64     `json:"errors"`
	Timeouts        int64     `json:"timeouts"`
	P50             float64   `json:"p50"`
	P90             float64   `json:"p90"`
	P99             float64   `json:"p99"`
	P999            float64   `json:"p999"`
	Max             float64   `json:"max"`
	IntervalSeconds float64   `json:"interval_seconds"`
	IntervalRates   []float64 `json:"interval_rates"`
	CPUSeconds      float64   `json:"cpu_seconds"`
}

type stepOut struct {
	Offered float64 `json:"offered"`
	phaseOut
	Scheduled  int64   `json:"scheduled"`
	Unsent     int64   `json:"unsent"`
	SendLagP50 float64 `json:"send_lag_p50"`
	SendLagP99 float64 `json:"send_lag_p99"`
}

type warmupOut struct {
	Seconds  float64  `json:"seconds"`
	Offered  *float64 `json:"offered"`
	Count    int64    `json:"count"`
	Errors   int64    `json:"errors"`
	Timeouts int64    `json:"timeouts"`
}

type output struct {
	Format         int        `json:"format"`
	Address        string     `json:"address"`
	Connections    int        `json:"connections"`
	TimeoutSeconds float64    `json:"timeout_seconds"`
	GoVersion      string     `json:"go_version"`
	GOMAXPROCS     int        `json:"gomaxprocs"`
	Warmup         *warmupOut `json:"warmup"`
	Steps          []stepOut  `json:"steps"`
	Closed         *phaseOut  `json:"closed"`
	CPUUser        float64    `json:"cpu_user_seconds"`
	CPUSystem      float64    `json:"cpu_system_seconds"`
	WallSeconds    float64    `json:"wall_seconds"`
	Complete       bool       `json:"complete"`
	Stopped        *string    `json:"stopped"`
}

// summarize turns a phase's merged record into its output.
func summarize(rec *Recorder, duration time.Duration, cpu float64) phaseOut {
	h := rec.Latency
	rates := make([]float64, len(rec.PerInterval))
	for i, c := range rec.PerInterval {
		rates[i] = float64(c) / seconds(rec.IntervalLen)
	}
	return phaseOut{
		Seconds: duration.Seconds(), Count: rec.Count,
		Achieved: float64(rec.Count) / seconds(rec.Elapsed(int64(duration))),
		Errors:   rec.Errors, Timeouts: rec.Timeouts,
		P50: seconds(h.ValueAtPercentile(50)), P90: seconds(h.ValueAtPercentile(90)),
		P99: seconds(h.ValueAtPercentile(99)), P999: seconds(h.ValueAtPercentile(99.9)),
		Max: seconds(h.Max()), IntervalSeconds: seconds(rec.IntervalLen), IntervalRates: rates,
		CPUSeconds: cpu,
	}
}

// checkPlan refuses a plan whose phases may take longer than -max-seconds.
func checkPlan(o options) error {
	if planned := o.planned(); planned.Seconds() > o.maxSeconds {
		return fmt.Errorf("the phases may take %.1f s, over -max-seconds %g", planned.Seconds(), o.maxSeconds)
	}
	return nil
}

func generate(o options, signals <-chan os.Signal) int {
	if !o.interactive {
		if err := checkPlan(o); err != nil {
			fail(1, "%v", err)
		}
	}
	began := time.Now()
	g, err := newGenerator(o.addr, o.connections, o.timeout)
	if err != nil {
		fail(1, "%v", err)
	}
	go func() {
		<-signals
		g.stop("signal")
	}()
	bound := time.Duration(o.maxSeconds * float64(time.Second))
	time.AfterFunc(bound, func() { g.stop("time bound") })
	time.AfterFunc(bound+5*time.Second, func() { fail(1, "did not stop within 5 s of its time bound") })

	if o.interactive {
		err := interact(g, o, os.Stdin, os.Stdout)
		why := g.stopReason()
		g.stop("done")
		if err != nil {
			fail(2, "%v", err)
		}
		if why != "" {
			warn("stopped early (%s)", why)
			return 3
		}
		return 0
	}
	result := output{Format: 1, Address: o.addr, Connections: o.connections,
		TimeoutSeconds: o.timeout.Seconds(), GoVersion: runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Steps: []stepOut{}}
	if o.warmup > 0 {
		rate := o.warmupRate
		if rate == 0 && len(o.rates) > 0 {
			rate = o.rates[0]
		}
		var rec *Recorder
		w := &warmupOut{Seconds: o.warmup.Seconds()}
		if rate > 0 {
			rec = g.open(rate, o.warmup, 1)
			w.Offered = &rate
		} else {
			rec = g.closed(o.warmup, 1)
		}
		w.Count, w.Errors, w.Timeouts = rec.Count, rec.Errors, rec.Timeouts
		if g.stopReason() == "" {
			result.Warmup = w
		}
	}
	for _, rate := range o.rates {
		if g.stopReason() != "" {
			break
		}
		cpu := cpuSeconds()
		rec := g.open(rate, o.step, o.intervals)
		if g.stopReason() != "" {
			break
		}
		result.Steps = append(result.Steps, stepOut{Offered: rate,
			phaseOut:   summarize(rec, o.step, cpuSeconds()-cpu),
			Scheduled:  Schedule{Rate: rate, Conns: o.connections, Duration: int64(o.step)}.Total(),
			Unsent:     rec.Unsent,
			SendLagP50: seconds(rec.Lag.ValueAtPercentile(50)),
			SendLagP99: seconds(rec.Lag.ValueAtPercentile(99))})
	}
	if o.closed > 0 && g.stopReason() == "" {
		cpu := cpuSeconds()
		rec := g.closed(o.closed, o.intervals)
		if g.stopReason() == "" {
			phase := summarize(rec, o.closed, cpuSeconds()-cpu)
			result.Closed = &phase
		}
	}
	why := g.stopReason()
	g.stop("done")
	result.CPUUser, result.CPUSystem = cpuTimes()
	result.WallSeconds = time.Since(began).Seconds()
	result.Complete = why == ""
	if why != "" {
		result.Stopped = &why
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(1, "writing the result: %v", err)
	}
	if why != "" {
		warn("stopped early (%s) after %d of %d steps", why, len(result.Steps), len(o.rates))
		return 3
	}
	return 0
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fail(2, "usage: see the comment at the top of benchmarks/loadgen/main.go")
	}
	if err != nil {
		fail(2, "%v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if o.echo != "" {
		os.Exit(serveEcho(o.echo, time.Duration(o.maxSeconds*float64(time.Second)), signals))
	}
	os.Exit(generate(o, signals))
}
