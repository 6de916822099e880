package main

import (
	"sync"
	"testing"
	"time"
)

// parkChan starts n chanWaiters on ch and returns once all arrived.
func parkChan(n int, ch chan struct{}, done *sync.WaitGroup) {
	arrived := make(chan struct{}, n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go chanWaiter(ch, func() { arrived <- struct{}{} }, done)
	}
	for i := 0; i < n; i++ {
		<-arrived
	}
}

// settle polls prove until want goroutines are blocked or a second has passed: a
// goroutine arrives just before it blocks.
func settle(t *testing.T, base [2]int64, site [2]string, want int64) map[string]any {
	deadline := time.Now().Add(time.Second)
	for {
		counts := prove(base, site)
		if counts["blocked_in_call"] == want || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProveCountsWaitersBlockedInTheirCall(t *testing.T) {
	base := settledCounts()
	ch := make(chan struct{})
	var done sync.WaitGroup
	parkChan(37, ch, &done)
	counts := settle(t, base, blockSites["chan"], 37)
	if counts["blocked_in_call"] != int64(37) || counts["goroutines_alive"] != int64(37) {
		t.Fatalf("37 parked, proof says %v", counts)
	}
	// A waiter of another variant is not counted as blocked in a channel receive.
	if other := prove(base, blockSites["cond"]); other["blocked_in_call"] != int64(0) {
		t.Fatalf("chan waiters counted as cond waiters: %v", other)
	}
	close(ch)
	done.Wait()
}

func TestProveDoesNotCountWaitersThatEnded(t *testing.T) {
	base := settledCounts()
	ch := make(chan struct{})
	close(ch) // every receive returns at once: the waiters end instead of parking
	var done sync.WaitGroup
	parkChan(20, ch, &done)
	done.Wait()
	time.Sleep(10 * time.Millisecond) // let the ended goroutines leave the scheduler
	if counts := prove(base, blockSites["chan"]); counts["blocked_in_call"] != int64(0) {
		t.Fatalf("20 ended waiters, proof counts %v", counts)
	}
}

// settledCounts is the scheduler's count once the goroutines an earlier test ended have
// left it: the same count over 20 ms (on a busy machine they take longer than 10 ms, and a
// baseline that still counts one makes the test's own goroutines look one fewer).
func settledCounts() [2]int64 {
	last := schedCounts()
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		now := schedCounts()
		if now[0] == last[0] {
			return now
		}
		last = now
	}
	return last
}

func TestProveDoesNotCountAWaiterBlockedElsewhere(t *testing.T) {
	// cond waiters stuck on the mutex (held here) are alive, waiting and inside their
	// function, but not in cond.Wait: not parked where the variant says.
	base := settledCounts()
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	released := false
	var done sync.WaitGroup
	done.Add(5)
	mu.Lock()
	for i := 0; i < 5; i++ {
		go condWaiter(&mu, cond, &released, func() {}, &done)
	}
	deadline := time.Now().Add(time.Second)
	for prove(base, blockSites["cond"])["goroutines_alive"] != int64(5) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // no signal marks "blocked on the mutex": let them get there
	counts := prove(base, blockSites["cond"])
	if counts["goroutines_alive"] != int64(5) || counts["blocked_in_call"] != int64(0) {
		t.Fatalf("5 waiters blocked on the mutex, proof says %v", counts)
	}
	released = true
	mu.Unlock()
	done.Wait()
}
