package main

import (
	"encoding/json"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// echoServer answers every byte it reads with the same byte, a goroutine per connection:
// a null server, to measure the generator's own ceiling against.
type echoServer struct {
	ln          net.Listener
	mu          sync.Mutex
	open        map[net.Conn]bool
	closing     bool
	handlers    sync.WaitGroup
	connections atomic.Int64
	bytes       atomic.Int64
}

func listenEcho(addr string) (*echoServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &echoServer{ln: ln, open: map[net.Conn]bool{}}
	go e.accept()
	return e, nil
}

func (e *echoServer) accept() {
	for {
		conn, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		if e.closing {
			e.mu.Unlock()
			conn.Close()
			return
		}
		e.open[conn] = true
		e.handlers.Add(1)
		e.mu.Unlock()
		e.connections.Add(1)
		go e.serve(conn)
	}
}

func (e *echoServer) serve(conn net.Conn) {
	defer e.handlers.Done()
	var buf [512]byte
	for {
		n, err := conn.Read(buf[:])
		if n > 0 {
			e.bytes.Add(int64(n))
			if _, err := conn.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stop closes the listener and every connection and waits for their goroutines.
func (e *echoServer) stop() {
	e.ln.Close()
	e.mu.Lock()
	e.closing = true
	for conn := range e.open {
		conn.Close()
	}
	e.mu.Unlock()
	e.handlers.Wait()
}

// echoSummary is the echo server's last line.
type echoSummary struct {
	Connections int64   `json:"connections"`
	Bytes       int64   `json:"bytes"`
	CPUUser     float64 `json:"cpu_user_seconds"`
	CPUSystem   float64 `json:"cpu_system_seconds"`
	Stopped     string  `json:"stopped"`
}

// serveEcho runs the echo server until a signal or the time bound. It prints
// {"listening": "IP:port"} once it listens and an echoSummary when it ends; the exit
// status is 0 after a signal, 3 at the bound.
func serveEcho(addr string, bound time.Duration, signals <-chan os.Signal) int {
	e, err := listenEcho(addr)
	if err != nil {
		fail(1, "cannot listen on %s: %v", addr, err)
	}
	out := json.NewEncoder(os.Stdout)
	out.Encode(map[string]string{"listening": e.ln.Addr().String()})
	why, status := "signal", 0
	select {
	case <-signals:
	case <-time.After(bound):
		why, status = "time bound", 3
	}
	e.stop()
	user, system := cpuTimes()
	out.Encode(echoSummary{e.connections.Load(), e.bytes.Load(), user, system, why})
	if status != 0 {
		warn("echo server stopped at its time bound (-max-seconds)")
	}
	return status
}
