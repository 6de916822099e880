// Command gocheck is an independent check of parkbench's go figures, sharing no code
// with benchmarks/goprobe: it reads its own RSS before and after parking N goroutines
// on a channel receive, and times a plain channel ping-pong.
//
//	gocheck park -n 100000     -> {"n":..., "rss_before":..., "rss_after":...}
//	gocheck pingpong -loops 1000000 -> {"one_way_ns":...}   (GOMAXPROCS=1)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

func rss() int64 {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

func main() {
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := flags.Int("n", 100000, "goroutines")
	loops := flags.Int("loops", 1000000, "round trips")
	flags.Parse(os.Args[2:])
	out := json.NewEncoder(os.Stdout)
	switch os.Args[1] {
	case "park":
		runtime.GC()
		debug.FreeOSMemory()
		before := rss()
		ch := make(chan int)
		var started sync.WaitGroup
		started.Add(*n)
		for i := 0; i < *n; i++ {
			go func() {
				started.Done()
				<-ch
			}()
		}
		started.Wait()
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		debug.FreeOSMemory()
		out.Encode(map[string]int64{"n": int64(*n), "rss_before": before, "rss_after": rss()})
	case "pingpong":
		runtime.GOMAXPROCS(1)
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		start := time.Now()
		for i := 0; i < *loops; i++ {
			ping <- i
			<-pong
		}
		elapsed := time.Since(start)
		out.Encode(map[string]float64{"one_way_ns": float64(elapsed.Nanoseconds()) / float64(*loops) / 2})
	}
}
