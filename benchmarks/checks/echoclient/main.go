// Command echoclient is an independent closed-loop client for served_check.py: K
// connections, each sending one byte and waiting for its echo, back to back; it counts
// the replies of the measured seconds after a warm-up and prints {"rate": replies/s}.
// It shares no code with benchmarks/loadgen, so that the two can check each other.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "", "the echo server, IP:port")
	conns := flag.Int("connections", 16, "connections")
	warmup := flag.Duration("warmup", 6*time.Second, "not counted")
	measure := flag.Duration("measure", 3*time.Second, "counted")
	flag.Parse()
	var replies atomic.Int64
	var counting atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		conn, err := net.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoclient:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			one := []byte{'x'}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(one); err != nil {
					return
				}
				if _, err := c.Read(one); err != nil {
					return
				}
				if counting.Load() {
					replies.Add(1)
				}
			}
		}(conn)
	}
	time.Sleep(*warmup)
	counting.Store(true)
	start := time.Now()
	time.Sleep(*measure)
	counting.Store(false)
	elapsed := time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"rate": float64(replies.Load()) / elapsed})
}
