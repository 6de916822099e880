// Command goprobe is parkbench's Go reference model. It is driven by a Python probe
// child (parkbench/probes/go_goroutines.py) over its stdin and stdout, one line each
// way, so that memory is read from outside by the same code as for the Python models.
//
//	goprobe park -variant chan|cond|sleep -n N
//	    parks N goroutines, then answers commands: "prove" (count the goroutines that
//	    are blocked where they should be), "tail K" (time K hand-offs while they stay
//	    parked), "wake" (wake all, time it), "exit".
//	goprobe pingpong -placement same-core|cross-core -cpus A,B
//	    answers "L" with the nanoseconds of L round trips between two goroutines over
//	    unbuffered channels.
//	goprobe peer -n N -sleep D
//	    the whole-program style of the "1M concurrent tasks" benchmarks: N goroutines
//	    each sleep D, all waited for; the parent reads the peak RSS.
//	goprobe serve -listen-fd L -control-fd C
//	    the connections workload's server (parkbench/probes/conn_server.py): accepts on
//	    the inherited listening socket L, a goroutine per net.Conn parked in Read (echoing
//	    a byte it gets); answers each byte on the control socket C with one JSON line:
//	    "n" the connections that arrived, "?" also the proof's counts.
//
// Every answer is one JSON object on one line. The process dies with its parent
// (PR_SET_PDEATHSIG) and exits at end of input.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var out = json.NewEncoder(os.Stdout)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(3)
}

func main() {
	// Die with the parent: a probe child killed with SIGKILL leaves no goroutines behind.
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	if len(os.Args) < 2 {
		fail("usage: goprobe park|pingpong|peer [options]")
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	variant := flags.String("variant", "chan", "what the goroutines block on: chan, cond or sleep")
	n := flags.Int("n", 0, "goroutines to park")
	where := flags.String("placement", "same-core", "same-core or cross-core")
	cpus := flags.String("cpus", "", "CPU of goroutine A and of B, e.g. 0,1")
	sleep := flags.Duration("sleep", 10*time.Second, "peer: how long each goroutine sleeps")
	listenFD := flags.Int("listen-fd", -1, "serve: the inherited listening socket")
	controlFD := flags.Int("control-fd", -1, "serve: the inherited control socket")
	flags.Parse(os.Args[2:])
	switch os.Args[1] {
	case "park":
		park(*variant, *n)
	case "pingpong":
		pingpongServer(*where, *cpus)
	case "peer":
		peer(*n, *sleep)
	case "serve":
		serve(*listenFD, *controlFD)
	default:
		fail("unknown command %q", os.Args[1])
	}
}

// ---- parking ----------------------------------------------------------------------

// The waiters. Their names are what the proof looks for in the goroutine profile.

func chanWaiter(ch chan struct{}, arrive func(), done *sync.WaitGroup) {
	arrive()
	<-ch
	done.Done()
}

func condWaiter(mu *sync.Mutex, cond *sync.Cond, released *bool, arrive func(), done *sync.WaitGroup) {
	mu.Lock()
	arrive()
	for !*released {
		cond.Wait()
	}
	mu.Unlock()
	done.Done()
}

func sleepWaiter(arrive func()) {
	arrive()
	time.Sleep(1000 * time.Hour)
}

// Where each variant's waiter must be blocked: its function (named as the runtime names
// it: "main.chanWaiter" in the program, the package path in its tests), and the call it
// blocks in.
var blockSites = map[string][2]string{
	"chan":  {funcName(chanWaiter), "runtime.chanrecv"},
	"cond":  {funcName(condWaiter), "sync.runtime_notifyListWait"},
	"sleep": {funcName(sleepWaiter), "time.Sleep"},
}

func funcName(function any) string {
	return runtime.FuncForPC(reflect.ValueOf(function).Pointer()).Name()
}

func park(variant string, n int) {
	site, ok := blockSites[variant]
	if !ok || n < 1 {
		fail("park needs -variant chan, cond or sleep and -n of at least 1")
	}
	runtime.GC()
	base := schedCounts()
	var arrived atomic.Int64
	allArrived := make(chan struct{})
	arrive := func() {
		if arrived.Add(1) == int64(n) {
			close(allArrived)
		}
	}
	ch := make(chan struct{})
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	released := false
	var done sync.WaitGroup
	done.Add(n)

	start := time.Now()
	for i := 0; i < n; i++ {
		switch variant {
		case "chan":
			go chanWaiter(ch, arrive, &done)
		case "cond":
			go condWaiter(&mu, cond, &released, arrive, &done)
		case "sleep":
			go sleepWaiter(arrive)
		}
	}
	<-allArrived
	if variant == "cond" { // the last to arrive holds mu until it is in cond.Wait
		mu.Lock()
		mu.Unlock()
	}
	spawn := time.Since(start)
	out.Encode(map[string]any{
		"event": "parked", "parked": arrived.Load(), "spawn_seconds": spawn.Seconds(),
		"go_version": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0),
	})

	input := bufio.NewScanner(os.Stdin)
	for input.Scan() {
		words := strings.Fields(input.Text())
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "prove":
			counts := prove(base, site)
			// The proof's own allocations (the goroutine profile) go back to the OS
			// before memory is read: a collection, then the scavenger, forced.
			runtime.GC()
			debug.FreeOSMemory()
			out.Encode(counts)
		case "tail":
			loops, err := strconv.Atoi(words[1])
			if err != nil || loops < 1 {
				fail("tail needs a positive count")
			}
			out.Encode(map[string]any{"round_trip_ns": tail(loops)})
		case "wake":
			if variant == "sleep" {
				fail("sleeping goroutines wake on their timer only")
			}
			start := time.Now()
			if variant == "chan" {
				close(ch)
			} else {
				mu.Lock()
				released = true
				cond.Broadcast()
				mu.Unlock()
			}
			done.Wait()
			out.Encode(map[string]any{"event": "woken", "wake_seconds": time.Since(start).Seconds()})
		case "exit":
			os.Exit(0)
		default:
			fail("unknown command %q", words[0])
		}
	}
}

// ---- serving connections ----------------------------------------------------------

// echoHandler is the goroutine of one connection: parked in Read, echoing what it gets.
func echoHandler(conn net.Conn, arrived *atomic.Int64) {
	arrived.Add(1)
	buf := make([]byte, 1)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			conn.Close()
			return
		}
		conn.Write(buf[:n])
	}
}

func serve(listenFD, controlFD int) {
	if listenFD < 0 || controlFD < 0 {
		fail("serve needs -listen-fd and -control-fd")
	}
	listener, err := net.FileListener(os.NewFile(uintptr(listenFD), "listener"))
	if err != nil {
		fail("serve: %v", err)
	}
	control := os.NewFile(uintptr(controlFD), "control")
	replies := json.NewEncoder(control)
	runtime.GC()
	base := schedCounts()
	var arrived atomic.Int64
	var failure atomic.Value
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				failure.Store(err.Error()) // the machine said no: stop accepting, report it
				return
			}
			go echoHandler(conn, &arrived)
		}
	}()
	question := make([]byte, 1)
	for {
		if n, err := control.Read(question); n == 0 || err != nil {
			os.Exit(0) // the coordinator is gone
		}
		reply := map[string]any{"parked": arrived.Load()}
		if reason := failure.Load(); reason != nil {
			reply["error"] = reason
		} else if question[0] == '?' {
			// the accept loop is one goroutine more than the baseline
			now := schedCounts()
			reply["method"] = "goroutines alive, and stacked in net.Conn.Read (runtime_pollWait)"
			reply["goroutines_alive"] = now[0] - base[0] - 1
			var text strings.Builder
			pprof.Lookup("goroutine").WriteTo(&text, 1)
			reply["blocked_in_read"] = countStacks(text.String(), funcName(echoHandler),
				"internal/poll.runtime_pollWait")
			runtime.GC()
			debug.FreeOSMemory()
		}
		replies.Encode(reply)
	}
}

// schedCounts: live goroutines and those the scheduler counts as waiting.
func schedCounts() [2]int64 {
	sample := []metrics.Sample{{Name: "/sched/goroutines/waiting:goroutines"}}
	metrics.Read(sample)
	waiting := int64(-1)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		waiting = int64(sample[0].Value.Uint64())
	}
	return [2]int64{int64(runtime.NumGoroutine()), waiting}
}

// prove counts, from outside the waiters: goroutines alive beyond the baseline, those
// the scheduler counts as waiting beyond the baseline, and those whose stack (from the
// goroutine profile, taken with the world stopped) is the waiter's function blocked in
// its call.
func prove(base [2]int64, site [2]string) map[string]any {
	now := schedCounts()
	counts := map[string]any{
		"method":                 "goroutines alive, waiting (scheduler), and stacked in " + site[1],
		"goroutines_alive":       now[0] - base[0],
		"info_scheduler_waiting": now[1] - base[1], // approximate by its documentation: not a check
	}
	var text strings.Builder
	pprof.Lookup("goroutine").WriteTo(&text, 1)
	counts["blocked_in_call"] = countStacks(text.String(), site[0], site[1])
	return counts
}

// countStacks adds up the goroutines of the debug=1 profile records ("COUNT @ PC PC ..."
// lines) whose stack, read from the program counters (the text elides runtime frames), is parked
// (runtime.gopark on top) in the blocking call, called from the waiter function.
func countStacks(profile, waiter, call string) int64 {
	var total int64
	for _, line := range strings.Split(profile, "\n") {
		countText, pcText, found := strings.Cut(line, " @ ")
		count, err := strconv.ParseInt(countText, 10, 64)
		if !found || err != nil {
			continue
		}
		var names []string
		for _, word := range strings.Fields(pcText) {
			pc, err := strconv.ParseUint(strings.TrimPrefix(word, "0x"), 16, 64)
			if err != nil {
				continue
			}
			if fn := runtime.FuncForPC(uintptr(pc) - 1); fn != nil {
				names = append(names, fn.Name())
			}
		}
		if len(names) > 0 && names[0] == "runtime.gopark" && contains(names, call) && contains(names, waiter) {
			total += count
		}
	}
	return total
}

func contains(names []string, name string) bool {
	for _, each := range names {
		if each == name {
			return true
		}
	}
	return false
}

// tail times loops round trips one by one between two fresh goroutines.
func tail(loops int) []int64 {
	ab, ba := make(chan struct{}), make(chan struct{})
	go func() {
		for range ab {
			ba <- struct{}{}
		}
	}()
	samples := make([]int64, loops)
	for i := range samples {
		before := time.Now()
		ab <- struct{}{}
		<-ba
		samples[i] = int64(time.Since(before))
	}
	close(ab)
	return samples
}

// ---- hand-off ---------------------------------------------------------------------

type cpuMask [16]uint64

func setAffinity(cpu int) {
	var mask cpuMask
	mask[cpu/64] |= 1 << (cpu % 64)
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if errno != 0 {
		fail("sched_setaffinity(%d): %v", cpu, errno)
	}
}

func affinity() []int {
	var mask cpuMask
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if errno != 0 {
		fail("sched_getaffinity: %v", errno)
	}
	var cpus []int
	for cpu := 0; cpu < len(mask)*64; cpu++ {
		if mask[cpu/64]&(1<<(cpu%64)) != 0 {
			cpus = append(cpus, cpu)
		}
	}
	return cpus
}

// pingpongServer: goroutine A (this one) and goroutine B pass control back and forth
// over two unbuffered channels. same-core: GOMAXPROCS=1 (the parent pinned the process
// to one CPU), a goroutine switch on one thread. cross-core: each goroutine locked to
// its own OS thread, pinned to its own CPU, so every hand-off wakes the other thread.
func pingpongServer(where, cpuText string) {
	parts := strings.Split(cpuText, ",")
	if len(parts) != 2 {
		fail("pingpong needs -cpus A,B")
	}
	cpuA, errA := strconv.Atoi(parts[0])
	cpuB, errB := strconv.Atoi(parts[1])
	if errA != nil || errB != nil || cpuA < 0 || cpuB < 0 || cpuA >= 1024 || cpuB >= 1024 {
		fail("bad -cpus %q", cpuText)
	}
	ab, ba := make(chan struct{}), make(chan struct{})
	observedB := make(chan []int)
	switch where {
	case "same-core":
		runtime.GOMAXPROCS(1)
		go func() {
			observedB <- affinity()
			for range ab {
				ba <- struct{}{}
			}
		}()
	case "cross-core":
		runtime.GOMAXPROCS(2)
		runtime.LockOSThread()
		setAffinity(cpuA)
		go func() {
			runtime.LockOSThread()
			setAffinity(cpuB)
			observedB <- affinity()
			for range ab {
				ba <- struct{}{}
			}
		}()
	default:
		fail("unknown placement %q", where)
	}
	out.Encode(map[string]any{"go_version": runtime.Version(), "gomaxprocs": runtime.GOMAXPROCS(0),
		"cpus_a": affinity(), "cpus_b": <-observedB})
	input := bufio.NewScanner(os.Stdin)
	for input.Scan() {
		loops, err := strconv.Atoi(strings.TrimSpace(input.Text()))
		if err != nil || loops < 1 {
			fail("expected a positive loop count, got %q", input.Text())
		}
		start := time.Now()
		for i := 0; i < loops; i++ {
			ab <- struct{}{}
			<-ba
		}
		out.Encode(map[string]any{"ns": int64(time.Since(start))})
	}
}

// ---- peer style -------------------------------------------------------------------

// peer: N goroutines each sleep, all waited for, as whole-program benchmarks do. It
// reports its own resident memory before the goroutines and once all are asleep; the
// parent reads the peak (wait4's ru_maxrss).
func peer(n int, sleep time.Duration) {
	if n < 1 {
		fail("peer needs -n of at least 1")
	}
	rssStart := residentBytes()
	var wg sync.WaitGroup
	var asleep atomic.Int64
	allAsleep := make(chan struct{})
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if asleep.Add(1) == int64(n) {
				close(allAsleep)
			}
			time.Sleep(sleep)
		}()
	}
	spawned := time.Since(start)
	<-allAsleep
	time.Sleep(50 * time.Millisecond) // the last arrivals reach time.Sleep
	rssSettled := residentBytes()
	wg.Wait()
	out.Encode(map[string]any{"n": n, "spawn_seconds": spawned.Seconds(),
		"total_seconds": time.Since(start).Seconds(), "go_version": runtime.Version(),
		"rss_start": rssStart, "rss_settled": rssSettled})
}

// residentBytes: VmRSS of this process, from /proc/self/status.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, found := strings.CutPrefix(line, "VmRSS:"); found {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}
