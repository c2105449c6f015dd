// Centrifuge, for the benchmark: a small server on the Go library behind Centrifugo
// (github.com/centrifugal/centrifuge, Debian's golang-github-centrifugal-centrifuge-dev, 0.15), set up
// as the livehub bench server is: every channel open to subscribe and publish for any client, with
// history (100 publications for 5 minutes, livehub's default) and recovery positions on. It listens on
// 127.0.0.1:PORT, serves WebSocket at /connection/websocket (Centrifuge's JSON protocol), prints
// "READY <port>" like the other bench servers, and answers /__bench/stats with {"disconnected": N}, the
// clients the server closed (Centrifuge's own disconnects: a slow client past ClientQueueMaxSize, a
// write that failed or took over its write timeout), after a full collection (runtime.GC, as the
// Node servers run gc() before their figures: the runner reads RSS after it, CPU before).
//
// Debian's 0.15 is from 2021: it joins at most 4 messages per frame and gives each write 1 s; these
// rows say nothing of what current Centrifugo (its batching, its own defaults) does.
//
// The JSON protocol: a client sends {"id":1,"params":{}} (connect), then
// {"id":N,"method":1,"params":{"channel":"c"}} (subscribe) and
// {"id":N,"method":3,"params":{"channel":"c","data":{…}}} (publish); every command has a reply.
// Publications arrive as {"result":{"channel":"c","data":{"data":{…},"offset":N}}}, each line ending
// with '\n', several of them joined in one frame when a client's queue holds more than one.
//
// Built by `npm run bench` in GOPATH mode, nothing downloaded:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o centrifuge bench/servers/centrifuge/main.go
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (0: any free one)")
	flag.Parse()

	cfg := centrifuge.DefaultConfig
	cfg.LogLevel = centrifuge.LogLevelError
	cfg.LogHandler = func(e centrifuge.LogEntry) { log.Printf("centrifuge: %s: %v", e.Message, e.Fields) }
	node, err := centrifuge.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	// Anonymous clients: no token, no user.
	node.OnConnecting(func(ctx context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: ""}}, nil
	})
	var disconnected int64
	node.OnConnect(func(client *centrifuge.Client) {
		client.OnDisconnect(func(e centrifuge.DisconnectEvent) {
			if e.Disconnect != nil { // closed by the server, not by the client
				atomic.AddInt64(&disconnected, 1)
			}
		})
		client.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{Options: centrifuge.SubscribeOptions{Recover: true}}, nil)
		})
		client.OnPublish(func(e centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			cb(centrifuge.PublishReply{Options: centrifuge.PublishOptions{HistorySize: 100, HistoryTTL: 300 * time.Second}}, nil)
		})
	})
	if err := node.Run(); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		MessageSizeLimit: 64 * 1024,
		CheckOrigin:      func(r *http.Request) bool { return true },
	}))
	mux.HandleFunc("/__bench/stats", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"disconnected":%d}`, atomic.LoadInt64(&disconnected))
	})
	mux.HandleFunc("/__bench/reset", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, mux))
}
