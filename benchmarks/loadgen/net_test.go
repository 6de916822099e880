package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

func echoForTest(t *testing.T) *echoServer {
	e, err := listenEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stop)
	return e
}

func TestTheGeneratorDrivesARealEchoServer(t *testing.T) {
	e := echoForTest(t)
	g, err := newGenerator(e.ln.Addr().String(), 3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop("done")
	rec := g.open(1000, 300*time.Millisecond, 3)
	if rec.Count != 300 || rec.Errors+rec.Timeouts+rec.Unsent != 0 {
		t.Fatalf("open loop: %d replies, %d errors, %d timeouts, %d unsent", rec.Count, rec.Errors, rec.Timeouts, rec.Unsent)
	}
	if rec.Latency.Min() <= 0 || rec.Latency.Max() > int64(time.Second) {
		t.Fatalf("latency from %d to %d ns", rec.Latency.Min(), rec.Latency.Max())
	}
	closed := g.closed(100*time.Millisecond, 2)
	if closed.Count < 100 || closed.Errors+closed.Timeouts != 0 {
		t.Fatalf("closed loop: %d replies, %d errors, %d timeouts", closed.Count, closed.Errors, closed.Timeouts)
	}
	if got := e.bytes.Load(); got != rec.Count+closed.Count || e.connections.Load() != 3 {
		t.Fatalf("the server echoed %d bytes on %d connections", got, e.connections.Load())
	}
}

func TestAConnectionLostIsDialledAgainBeforeTheNextPhase(t *testing.T) {
	e := echoForTest(t)
	g, err := newGenerator(e.ln.Addr().String(), 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop("done")
	g.links[1].conn.Close() // as if the server had closed it
	rec := g.open(200, 100*time.Millisecond, 1)
	if rec.Errors != 1 || rec.Count+rec.Errors+rec.Unsent != 20 || g.links[1].conn != nil {
		t.Fatalf("%d errors, %d replies, %d unsent", rec.Errors, rec.Count, rec.Unsent)
	}
	rec = g.open(200, 100*time.Millisecond, 1)
	if rec.Errors != 0 || rec.Count != 20 {
		t.Fatalf("after dialling again: %d errors, %d replies", rec.Errors, rec.Count)
	}
	e.stop() // the server goes away: connections end, and none can be made again
	for phase := 0; phase < 2; phase++ {
		rec = g.open(200, 100*time.Millisecond, 1)
		if rec.Errors != 2 || rec.Count != 0 || rec.Unsent != 18 {
			t.Fatalf("no server, phase %d: %d errors, %d replies, %d unsent", phase, rec.Errors, rec.Count, rec.Unsent)
		}
	}
}

func TestStopEndsAPhaseAtOnceEvenBetweenSlowRequests(t *testing.T) {
	e := echoForTest(t)
	g, err := newGenerator(e.ln.Addr().String(), 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(150*time.Millisecond, func() { g.stop("signal") })
	began := time.Now()
	g.open(1, 10*time.Second, 1) // one request every 2 s per connection: asleep when stopped
	if took := time.Since(began); took > time.Second {
		t.Fatalf("the phase went on %v after stop", took)
	}
	if g.stopReason() != "signal" {
		t.Fatalf("stopped: %q", g.stopReason())
	}
}

func TestOptionsAreCheckedAndThePlanBounded(t *testing.T) {
	for arguments, message := range map[string]string{
		"-addr 127.0.0.1:1 -rates 2000,1000":  "must increase",
		"-addr 127.0.0.1:1 -rates 10,nan":     "not a rate",
		"-addr 10.0.0.1:80":                   "loopback",
		"-addr localhost:80":                  "loopback",
		"-rates 10":                           "one of them",
		"-addr 127.0.0.1:1 -echo 127.0.0.1:0": "one of them",
		"-addr 127.0.0.1:1 -connections 0":    "-connections",
		"-addr 127.0.0.1:1 -timeout 0s":       "positive",
		"-addr 127.0.0.1:1 -max-seconds -1":   "-max-seconds",
	} {
		if _, err := parseOptions(strings.Fields(arguments)); err == nil || !strings.Contains(err.Error(), message) {
			t.Errorf("%s: %v, not %q", arguments, err, message)
		}
	}
	o, err := parseOptions(strings.Fields("-addr 127.0.0.1:1 -rates 100,200,300 -step 2s -warmup 1s -closed 3s -timeout 500ms -max-seconds 15"))
	if err != nil {
		t.Fatal(err)
	}
	// 1 + 3 + 3 x 2 s of phases, 5 x (1 s + 5 ms) of drains and dials, 1 s to start
	if want := 16*time.Second + 25*time.Millisecond; o.planned() != want {
		t.Fatalf("planned %v, not %v", o.planned(), want)
	}
	if err := checkPlan(o); err == nil || !strings.Contains(err.Error(), "over -max-seconds 15") {
		t.Fatalf("a plan of %v passes a bound of 15 s: %v", o.planned(), err)
	}
	o.maxSeconds = 17
	if err := checkPlan(o); err != nil {
		t.Fatal(err)
	}
}

func TestInteractiveStepsRunOnTheSameConnectionsInAnyOrder(t *testing.T) {
	e := echoForTest(t)
	g, err := newGenerator(e.ln.Addr().String(), 4, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop("done")
	o := options{step: 100 * time.Millisecond, warmup: 20 * time.Millisecond, intervals: 5}
	var out strings.Builder
	if err := interact(g, o, strings.NewReader("2000\n\n1000\n"), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d steps for two rates: %q", len(lines), out.String())
	}
	for i, want := range []float64{2000, 1000} {
		var answer interactOut
		if err := json.Unmarshal([]byte(lines[i]), &answer); err != nil {
			t.Fatal(err)
		}
		step := answer.Step
		if step.Offered != want || step.Count != int64(want/10) || step.Scheduled != step.Count ||
			len(step.IntervalRates) != 5 {
			t.Fatalf("step %d: offered %g, %d of %d replies, intervals %v", i, step.Offered, step.Count,
				step.Scheduled, step.IntervalRates)
		}
		if answer.Warmup.Count != int64(want/50) || *answer.Warmup.Offered != want { // 20 ms at the rate
			t.Fatalf("warm-up %d: %d replies at %g/s", i, answer.Warmup.Count, *answer.Warmup.Offered)
		}
	}
	if e.connections.Load() != 4 { // the warm-ups and both steps on the first four connections
		t.Fatalf("%d connections made", e.connections.Load())
	}
	if err := interact(g, o, strings.NewReader("fast\n"), &out); err == nil || !strings.Contains(err.Error(), "not a rate") {
		t.Fatalf("a bad line: %v", err)
	}
}

// A generator that cannot connect says what the kernel said (parkbench names the port
// range where it said "cannot assign requested address": no local port was free).
func TestAFailedDialSaysWhatTheKernelSaid(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newGenerator(addr, 2, time.Second)
	if err == nil || !strings.Contains(err.Error(), "could not connect 2 of 2 connections to "+addr+" (last: ") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("%v", err)
	}
}
