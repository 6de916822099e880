package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// interact runs open-loop steps on the generator's K connections, one per line of in:
// each line is an offered rate (per second, 0 < rate <= 1e8, in any order); the step
// runs -warmup at that rate (not recorded, but counted: a caller reading the server's
// CPU over both needs its replies), then -step, and one JSON line goes to out:
// {"warmup": {seconds, offered, count, errors, timeouts}, "step": the step as the
// steps[] of a run's output has it}. The connections stay open from step to step (a
// server that spawns a thread or a process per connection does so once, not every
// step). End of input ends the run; a line that is not a rate is an error.
func interact(g *generator, o options, in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	encoder := json.NewEncoder(out)
	for lines.Scan() {
		text := strings.TrimSpace(lines.Text())
		if text == "" {
			continue
		}
		rate, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 || rate > 1e8 {
			return fmt.Errorf("%q is not a rate (0 < rate <= 1e8 per second)", text)
		}
		if g.stopReason() != "" {
			return nil
		}
		answer, ok := interactStep(g, o, rate)
		if !ok {
			return nil // stopped by a signal or the time bound meanwhile: nothing to say
		}
		if err := encoder.Encode(answer); err != nil {
			return fmt.Errorf("writing a step: %v", err)
		}
	}
	return lines.Err()
}

type interactOut struct {
	Warmup warmupOut `json:"warmup"`
	Step   stepOut   `json:"step"`
}

// interactStep is one step of interact: the warm-up at rate, then the recorded step.
func interactStep(g *generator, o options, rate float64) (interactOut, bool) {
	answer := interactOut{Warmup: warmupOut{Seconds: o.warmup.Seconds(), Offered: &rate}}
	if o.warmup > 0 {
		rec := g.open(rate, o.warmup, 1)
		answer.Warmup.Count, answer.Warmup.Errors, answer.Warmup.Timeouts = rec.Count, rec.Errors, rec.Timeouts
	}
	cpu := cpuSeconds()
	rec := g.open(rate, o.step, o.intervals)
	if g.stopReason() != "" {
		return answer, false
	}
	answer.Step = stepOut{Offered: rate,
		phaseOut:   summarize(rec, o.step, cpuSeconds()-cpu),
		Scheduled:  Schedule{Rate: rate, Conns: len(g.links), Duration: int64(o.step)}.Total(),
		Unsent:     rec.Unsent,
		SendLagP50: seconds(rec.Lag.ValueAtPercentile(50)),
		SendLagP99: seconds(rec.Lag.ValueAtPercentile(99))}
	return answer, true
}
