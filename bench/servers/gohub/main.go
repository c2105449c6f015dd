// The Go hub livehub ports, for the benchmark: gorilla/websocket's chat example (hub.go and
// client.go, Copyright 2013 The Gorilla WebSocket Authors, BSD-2-Clause; toutago-inertia's
// pkg/realtime follows it), kept as it is but for these things:
//   - it listens on 127.0.0.1:PORT and prints "READY <port>" like the other bench servers;
//   - the read limit is 64 KiB instead of 512 bytes (the 1 KiB and 16 KiB workloads publish larger
//     messages);
//   - buffers sized for the load, as its users would (the example's are sized for a demo):
//     -write-buffer (16 KiB, the example's 1 KiB: the writer joins what is queued into one frame, and
//     a buffer that size lets a frame hold ~150 100-byte messages per write instead of ~10) and
//     -send-queue (1024 messages a client, the example's 256: at 5,000 publishes a second 256 is
//     50 ms, less than one round of the Go scheduler over a thousand writers on one core);
//   - /__bench/stats answers {"disconnected": N}, the clients the hub dropped because their send
//     queue was full (the example's only way to deal with a slow client, the publisher included: it
//     is a client like the others and receives every message), after a full collection (runtime.GC,
//     as the Node servers run gc() before their figures: the runner reads RSS after it, CPU before).
//
// Every message a client sends is broadcast to every client; the writer joins the messages queued
// for a client with '\n' inside one frame, which the C load generator counts line by line.
//
// Built by `npm run bench` with Debian's golang-go and golang-github-gorilla-websocket-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o gohub bench/servers/gohub/main.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = (pongWait * 9) / 10
	maxMessageSize = 64 * 1024
)

var (
	newline = []byte{'\n'}
	space   = []byte{' '}
)

var (
	upgrader     websocket.Upgrader
	sendQueue    int
	disconnected int64 // clients dropped with a full send queue
)

type Client struct {
	hub  *Hub
	conn *websocket.Conn
	send chan []byte
}

type Hub struct {
	clients    map[*Client]bool
	broadcast  chan []byte
	register   chan *Client
	unregister chan *Client
}

func newHub() *Hub {
	return &Hub{
		broadcast:  make(chan []byte),
		register:   make(chan *Client),
		unregister: make(chan *Client),
		clients:    make(map[*Client]bool),
	}
}

func (h *Hub) run() {
	for {
		select {
		case client := <-h.register:
			h.clients[client] = true
		case client := <-h.unregister:
			if _, ok := h.clients[client]; ok {
				delete(h.clients, client)
				close(client.send)
			}
		case message := <-h.broadcast:
			for client := range h.clients {
				select {
				case client.send <- message:
				default:
					atomic.AddInt64(&disconnected, 1)
					close(client.send)
					delete(h.clients, client)
				}
			}
		}
	}
}

func (c *Client) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { c.conn.SetReadDeadline(time.Now().Add(pongWait)); return nil })
	for {
		_, message, err := c.conn.ReadMessage()
		if err != nil {
			break
		}
		message = bytes.TrimSpace(bytes.Replace(message, newline, space, -1))
		c.hub.broadcast <- message
	}
}

func (c *Client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case message, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			w, err := c.conn.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			w.Write(message)
			n := len(c.send)
			for i := 0; i < n; i++ {
				w.Write(newline)
				w.Write(<-c.send)
			}
			if err := w.Close(); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func serveWs(hub *Hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	client := &Client{hub: hub, conn: conn, send: make(chan []byte, sendQueue)}
	client.hub.register <- client
	go client.writePump()
	go client.readPump()
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1")
	writeBuffer := flag.Int("write-buffer", 16*1024, "bytes of each connection's write buffer (the example: 1024)")
	flag.IntVar(&sendQueue, "send-queue", 1024, "messages queued per client before the hub drops it (the example: 256)")
	flag.Parse()
	upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: *writeBuffer}
	hub := newHub()
	go hub.run()
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { serveWs(hub, w, r) })
	http.HandleFunc("/__bench/stats", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"disconnected":%d}`, atomic.LoadInt64(&disconnected))
	})
	http.HandleFunc("/__bench/reset", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		panic(err)
	}
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	http.Serve(ln, nil)
}
