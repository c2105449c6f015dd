/*
 * The C load generator: the same job and the same stdio conversation as bench/loadgen.ts, on epoll,
 * so that at 5k and 10k subscribers the figures are the server's and not the generator's.
 *
 *   loadgen '<GenConfig JSON>'   (see bench/loadgen.ts for the fields)
 *
 * One thread holds every subscriber connection in one epoll loop; a second thread (same core: it
 * inherits the affinity) publishes on its own connection, each message stamped with its scheduled
 * send time, so a busy receive loop cannot delay the schedule. Latency is now - scheduled, both on
 * CLOCK_MONOTONIC (what Node's process.hrtime reads too).
 *
 * Stdio: prints READY once every subscriber is subscribed, waits for START, prints DRAINED once
 * everything expected arrived (or 5 s after the last publish), waits for FINISH, prints RESULT {json}.
 * Protocols: "livehub" (also the naive hub), "socketio" (Engine.IO 4 over a WebSocket), "gohub"
 * (gorilla's chat hub, which joins queued messages with '\n' inside one frame: each line counts) and
 * "sse": subscribers open Server-Sent Events streams (GET /events?channel=…, read by sse.c) and wait
 * for a livehub "subscribed" event per channel; the publisher speaks "livehub" over a WebSocket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sse.h"

enum { P_LIVEHUB, P_SOCKETIO, P_GOHUB, P_SSE };
enum { S_CONNECTING, S_UPGRADING, S_SETUP, S_READY, S_CLOSED };

#define DRAIN_MICROS 5000000LL
#define SAMPLED 64
#define PARALLEL_SETUPS 200
#define PREFIX_SAMPLED 120
#define READ_BUF (256 * 1024)

static struct {
  int protocol, port, nports, ports[64];
  char workload[4];
  int connections, size, rate, burst, duration;
  double slow_fraction;
} cfg;

typedef struct conn {
  int fd, state, port, index, setup_left;
  unsigned sampled : 1, slow : 1, publisher : 1;
  char head[2048];
  int head_len;
  uint8_t hdr[14];
  int hdr_have, in_frame, opcode, fin, want, have, ctl_have;
  uint64_t length, remaining;
  char prefix[PREFIX_SAMPLED + 1]; /* the first bytes of the current message */
  char ctl[126];                   /* the payload of the current control frame */
  uint64_t lines; /* gohub: newlines seen in the current message, across its fragments */
  uint64_t received;
  sse_t sse; /* P_SSE subscribers: the event stream */
} conn_t;

static conn_t *conns;
static int epfd, started_setups, ready_count, running;
static uint64_t total_received;
static int64_t *latencies;
static size_t nlat, caplat;
static volatile int publisher_done, publisher_stop, publisher_closed;
static long long pub_sent, pub_expected;
static int done_pipe[2];
static uint8_t rbuf[READ_BUF];

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}

/* ---- the config: a flat JSON object written by bench/run.ts ---- */

static const char *field(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *at = strstr(json, pat);
  return at ? at + strlen(pat) : NULL;
}
static double num(const char *json, const char *key, double fallback) {
  const char *at = field(json, key);
  return at ? strtod(at, NULL) : fallback;
}
static void parse_config(const char *json) {
  const char *p = field(json, "protocol");
  if (!p) { errno = 0; die("config without protocol"); }
  cfg.protocol = !strncmp(p, "\"socketio\"", 10) ? P_SOCKETIO : !strncmp(p, "\"gohub\"", 7) ? P_GOHUB
               : !strncmp(p, "\"sse\"", 5) ? P_SSE : P_LIVEHUB;
  p = field(json, "workload");
  if (p) memcpy(cfg.workload, p + 1, 2);
  cfg.port = (int)num(json, "port", 0);
  cfg.connections = (int)num(json, "connections", 1000);
  cfg.size = (int)num(json, "size", 100);
  cfg.rate = (int)num(json, "rate", 1000);
  cfg.burst = (int)num(json, "burst", 0);
  cfg.duration = (int)num(json, "duration", 5);
  cfg.slow_fraction = num(json, "slowFraction", 0);
  p = field(json, "ports");
  if (p && *p == '[') {
    char *end;
    for (p++; *p && *p != ']' && cfg.nports < 64; p = end) {
      cfg.ports[cfg.nports++] = (int)strtol(p, &end, 10);
      while (*end == ',' || *end == ' ') end++;
    }
  }
}

static const char *path(void) {
  return cfg.protocol == P_SOCKETIO ? "/socket.io/?EIO=4&transport=websocket" : cfg.protocol == P_GOHUB ? "/ws" : "/";
}
static int is_w3(void) { return !strcmp(cfg.workload, "W3"); }
/* Subscribers on SSE streams (the publisher is on a WebSocket whatever the protocol). */
static int sse_subscriber(const conn_t *c) { return cfg.protocol == P_SSE && !c->publisher; }

/* ---- frames ---- */

/* A masked client text frame with a zero masking key (valid, and the payload goes as is). */
static size_t client_frame(uint8_t *out, int opcode, const char *payload, size_t n) {
  size_t h;
  out[0] = 0x80 | opcode;
  if (n < 126) { out[1] = 0x80 | n; h = 2; }
  else if (n < 65536) { out[1] = 0x80 | 126; out[2] = n >> 8; out[3] = n & 0xff; h = 4; }
  else { out[1] = 0x80 | 127; for (int k = 0; k < 8; k++) out[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k)); h = 10; }
  memset(out + h, 0, 4);
  memcpy(out + h + 4, payload, n);
  return h + 4 + n;
}

static void send_text(conn_t *c, int opcode, const char *payload, size_t n) {
  uint8_t frame[512];
  if (n > sizeof frame - 14) return;
  size_t len = client_frame(frame, opcode, payload, n);
  if (write(c->fd, frame, len) < 0 && errno != EAGAIN) c->state = S_CLOSED;
}
static void send_str(conn_t *c, const char *s) { send_text(c, 1, s, strlen(s)); }

static void channel_names(int i, char names[2][32], int *count) {
  if (is_w3()) {
    snprintf(names[0], 32, "u%d", i);
    snprintf(names[1], 32, "g%d", i / 10);
    *count = 2;
  } else {
    strcpy(names[0], "c");
    *count = 1;
  }
}

static void send_subscribes(conn_t *c) {
  char names[2][32], msg[128];
  int count;
  channel_names(c->index, names, &count);
  for (int k = 0; k < count; k++) {
    if (cfg.protocol == P_SOCKETIO) snprintf(msg, sizeof msg, "42%d[\"subscribe\",\"%s\"]", k + 1, names[k]);
    else snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"channel\":\"%s\"}", names[k]);
    send_str(c, msg);
  }
}

/** Frames a connection receives before it is subscribed everywhere. */
static int setup_frames(int i) {
  char names[2][32];
  int count;
  channel_names(i, names, &count);
  return cfg.protocol == P_SOCKETIO ? 2 + count : cfg.protocol == P_GOHUB ? 0 : count; /* livehub, sse: "subscribed" each */
}

static void start_next(void);
static void mark_ready(conn_t *c) {
  c->state = S_READY;
  ready_count++;
  start_next();
}

/* A hub message (or `count` of them) arrived; `text` is its first bytes, NUL-terminated. */
static void count_message(conn_t *c, const char *text, uint64_t count) {
  if (!running) return;
  c->received += count;
  total_received += count;
  if (!c->sampled) return;
  const char *at = strstr(text, "\"t\":");
  if (!at) return;
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 65536;
    latencies = realloc(latencies, caplat * sizeof *latencies);
  }
  latencies[nlat++] = now_us() - strtoll(at + 4, NULL, 10);
}

static int starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* One SSE event: a hub message, or livehub's own (a "subscribed" reply counts toward setup). */
static void on_sse_event(void *ctx, int livehub, const char *data, int len) {
  conn_t *c = ctx;
  (void)len;
  if (!livehub) {
    if (c->state == S_READY) count_message(c, data, 1);
    return;
  }
  if (c->state != S_SETUP) return;
  if (starts_with(data, "{\"type\":\"subscribed\"")) {
    if (--c->setup_left == 0) mark_ready(c);
  } else if (starts_with(data, "{\"type\":\"error\"")) {
    fprintf(stderr, "loadgen: the stream refused a subscription: %s\n", data);
    exit(1);
  }
}

static void on_text(conn_t *c) {
  int n = c->have;
  if (cfg.protocol == P_SOCKETIO && c->length == 1) {
    if (c->prefix[0] == '2') send_str(c, "3"); /* engine.io ping */
    return;
  }
  if (c->publisher) {
    if (cfg.protocol == P_SOCKETIO && n >= 2 && !memcmp(c->prefix, "40", 2)) c->state = S_READY;
    return;
  }
  if (c->state == S_READY) {
    c->prefix[n] = 0;
    count_message(c, c->prefix, cfg.protocol == P_GOHUB ? 1 + c->lines : 1);
    return;
  }
  if (cfg.protocol == P_SOCKETIO && n >= 2 && !memcmp(c->prefix, "40", 2)) send_subscribes(c);
  if (--c->setup_left == 0) mark_ready(c);
}

static void close_conn(conn_t *c) {
  if (c->state == S_CLOSED) return;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = S_CLOSED;
}

static void end_frame(conn_t *c) {
  c->in_frame = 0;
  if (c->opcode < 8) { if (c->fin) on_text(c); } /* a whole message, perhaps in fragments */
  else if (c->opcode == 0x9) send_text(c, 0xa, c->ctl, c->ctl_have);
  else if (c->opcode == 0x8) { if (!c->publisher) close_conn(c); else c->state = S_CLOSED; }
}

/* Walks frame headers; keeps the first bytes of each message (all of a control frame's payload). */
static void scan(conn_t *c, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && c->state != S_CLOSED) {
    if (!c->in_frame) {
      c->hdr[c->hdr_have++] = p[i++];
      if (c->hdr_have < 2) continue;
      int b1 = c->hdr[1] & 0x7f;
      int need = b1 < 126 ? 2 : b1 == 126 ? 4 : 10;
      if (c->hdr_have < need) continue;
      c->opcode = c->hdr[0] & 0x0f;
      c->fin = c->hdr[0] >> 7;
      if (b1 < 126) c->length = b1;
      else if (b1 == 126) c->length = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
      else { c->length = 0; for (int k = 0; k < 8; k++) c->length = c->length << 8 | c->hdr[2 + k]; }
      c->hdr_have = 0;
      c->in_frame = 1;
      c->remaining = c->length;
      if (c->opcode >= 8) c->ctl_have = 0;
      else if (c->opcode != 0) { /* a message starts; 0 continues one */
        int keep = c->sampled || c->publisher ? PREFIX_SAMPLED : 2;
        c->want = c->length < (uint64_t)keep ? (int)c->length : keep;
        c->have = 0;
        c->lines = 0;
      }
      if (c->remaining == 0) end_frame(c);
      continue;
    }
    size_t take = c->remaining < n - i ? c->remaining : n - i;
    if (c->opcode >= 8) {
      size_t keep = take < sizeof c->ctl - c->ctl_have ? take : sizeof c->ctl - c->ctl_have;
      memcpy(c->ctl + c->ctl_have, p + i, keep);
      c->ctl_have += keep;
    } else if (c->have < c->want) {
      size_t keep = take < (size_t)(c->want - c->have) ? take : (size_t)(c->want - c->have);
      memcpy(c->prefix + c->have, p + i, keep);
      c->have += keep;
    }
    if (cfg.protocol == P_GOHUB && c->opcode < 8) {
      const uint8_t *q = p + i, *end = p + i + take;
      while ((q = memchr(q, '\n', end - q))) { c->lines++; q++; }
    }
    i += take;
    c->remaining -= take;
    if (c->remaining == 0) end_frame(c);
  }
}

/* Reads the HTTP answer to the upgrade (to the GET, for an SSE stream: a 200, chunked or not);
 * returns bytes of it consumed, or -1 while incomplete. */
static int upgrade_reply(conn_t *c, const uint8_t *p, size_t n) {
  size_t room = sizeof c->head - 1 - c->head_len, take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  int before = c->head_len;
  c->head_len += take;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len == sizeof c->head - 1) { errno = 0; die("upgrade answer too long"); }
    return -1;
  }
  int sse = sse_subscriber(c);
  if (strncmp(c->head, sse ? "HTTP/1.1 200" : "HTTP/1.1 101", 12)) {
    *strchr(c->head, '\r') = 0;
    fprintf(stderr, "loadgen: %s refused: %s\n", sse ? "event stream" : "upgrade", c->head);
    exit(1);
  }
  if (sse) sse_init(&c->sse, strcasestr(c->head, "\r\ntransfer-encoding: chunked") != NULL);
  return (int)(end + 4 - c->head) - before;
}

static int connect_to(int port, int blocking) {
  int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

/* An SSE subscriber's request: GET /events?channel=…&channel=… */
static void write_stream_request(conn_t *c) {
  char names[2][32], query[128] = "", req[512];
  int count, q = 0;
  channel_names(c->index, names, &count);
  for (int k = 0; k < count; k++) q += snprintf(query + q, sizeof query - q, "%schannel=%s", k ? "&" : "?", names[k]);
  int n = snprintf(req, sizeof req, "GET /events%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n", query, c->port);
  if (write(c->fd, req, n) != n) die("write stream request");
  c->state = S_UPGRADING;
}

static void write_upgrade(conn_t *c) {
  if (sse_subscriber(c)) { write_stream_request(c); return; }
  /* livehub answers "subscribed" only on connections that negotiated its full protocol. */
  int full = cfg.protocol == P_LIVEHUB || cfg.protocol == P_SSE;
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   path(), c->port, full ? "Sec-WebSocket-Protocol: livehub.v1\r\n" : "");
  if (write(c->fd, req, n) != n) die("write upgrade");
  c->state = S_UPGRADING;
}

static void start_next(void) {
  while (started_setups < cfg.connections && started_setups - ready_count < PARALLEL_SETUPS) {
    conn_t *c = &conns[started_setups++];
    c->fd = connect_to(c->port, 0);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
}

static void on_event(conn_t *c, uint32_t events) {
  if (c->state == S_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { errno = err; die("connect"); }
    write_upgrade(c);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    return;
  }
  ssize_t n = read(c->fd, rbuf, sizeof rbuf);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    if (c->state != S_READY && !running) { errno = 0; die("connection closed during setup"); }
    close_conn(c);
    return;
  }
  size_t off = 0;
  if (c->state == S_UPGRADING) {
    int used = upgrade_reply(c, rbuf, n);
    if (used < 0) return;
    off = used;
    c->state = S_SETUP;
    if (cfg.protocol == P_LIVEHUB) send_subscribes(c); /* an SSE stream names its channels in the URL */
    else if (cfg.protocol == P_SOCKETIO) send_str(c, "40"); /* connect to the main namespace */
    if (c->setup_left == 0) mark_ready(c);
  }
  if (cfg.protocol == P_SSE) {
    if (sse_feed(&c->sse, rbuf + off, n - off, on_sse_event, c) < 0) { errno = 0; die("malformed chunked encoding"); }
    if (c->sse.ended) close_conn(c);
    return;
  }
  scan(c, rbuf + off, n - off);
}

/* ---- the publisher thread ---- */

typedef struct { uint8_t *data; size_t len, cap; } buf_t;
static void buf_put(buf_t *b, const uint8_t *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static int slow_count(void) {
  if (strcmp(cfg.workload, "W4")) return 0;
  int s = (int)(cfg.connections * cfg.slow_fraction);
  return s < 1 ? 1 : s;
}

static void pub_read(conn_t *c) {
  uint8_t in[16384];
  ssize_t n = read(c->fd, in, sizeof in);
  if (n == 0) c->state = S_CLOSED;
  if (n <= 0) return;
  size_t off = 0;
  if (c->state == S_UPGRADING) {
    int used = upgrade_reply(c, in, n);
    if (used < 0) return;
    off = used;
    c->state = cfg.protocol == P_SOCKETIO ? S_SETUP : S_READY;
    if (cfg.protocol == P_SOCKETIO) send_str(c, "40");
  }
  scan(c, in + off, n - off);
}

static void pub_flush(conn_t *c, buf_t *out, size_t *done) {
  while (*done < out->len) {
    ssize_t w = write(c->fd, out->data + *done, out->len - *done);
    if (w <= 0) return;
    *done += w;
  }
  out->len = *done = 0;
}

static void *publisher(void *arg) {
  (void)arg;
  static conn_t pc;
  pc.publisher = 1;
  pc.port = cfg.port;
  pc.fd = connect_to(cfg.port, 1);
  write_upgrade(&pc);
  while (pc.state != S_READY) {
    if (pc.state == S_CLOSED) { errno = 0; die("publisher connection closed"); }
    pub_read(&pc);
  }
  if (fcntl(pc.fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");

  int slow = slow_count(), n = cfg.connections, groups = (n + 9) / 10;
  int bursts = !strcmp(cfg.workload, "W2");
  long long count = bursts ? (long long)cfg.burst * cfg.duration : (long long)cfg.rate * cfg.duration;
  int pad_len = cfg.size > 60 ? cfg.size - 60 : 0;
  char *pad = malloc(pad_len + 1);
  memset(pad, 'x', pad_len);
  pad[pad_len] = 0;
  char *msg = malloc(pad_len + 256);
  uint8_t *frame = malloc(pad_len + 256 + 14);
  buf_t out = { 0 };
  size_t done = 0;
  int64_t start = now_us() + 20000;
  long long sent = 0, expected = 0;
  for (;;) {
    int64_t now = now_us();
    while (sent < count) {
      int64_t at = bursts ? start + (sent / cfg.burst) * 1000000LL : start + sent * 1000000LL / cfg.rate;
      if (at > now) break;
      char channel[32];
      int fanout;
      if (!is_w3()) { strcpy(channel, "c"); fanout = n - slow; }
      else if (sent % 2 == 0) {
        int g = (int)((sent / 2) % groups);
        snprintf(channel, sizeof channel, "g%d", g);
        fanout = n - g * 10 < 10 ? n - g * 10 : 10;
      } else { snprintf(channel, sizeof channel, "u%lld", (sent * 7919) % n); fanout = 1; }
      int len = cfg.protocol == P_SOCKETIO
        ? sprintf(msg, "42[\"publish\",{\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"t\":%lld,\"p\":\"%s\"}}]", channel, (long long)at, pad)
        : sprintf(msg, "{\"type\":\"publish\",\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"t\":%lld,\"p\":\"%s\"}}", channel, (long long)at, pad);
      buf_put(&out, frame, client_frame(frame, 1, msg, len));
      expected += fanout;
      sent++;
    }
    pub_flush(&pc, &out, &done);
    if (sent >= count && !publisher_done) {
      pub_sent = sent;
      pub_expected = expected;
      __atomic_store_n(&publisher_done, 1, __ATOMIC_RELEASE);
      if (write(done_pipe[1], "d", 1) != 1) die("pipe");
    }
    if (pc.state == S_CLOSED && !publisher_closed) { publisher_closed = 1; fprintf(stderr, "loadgen: the server closed the publisher connection after %lld publishes\n", sent); }
    if (publisher_stop) break;
    int64_t next = sent < count
      ? (bursts ? start + (sent / cfg.burst) * 1000000LL : start + sent * 1000000LL / cfg.rate) - now_us()
      : 10000;
    if (next > 1000) next = 1000;
    if (next < 0) next = 0;
    struct pollfd pfd = { .fd = pc.fd, .events = POLLIN | (out.len ? POLLOUT : 0) };
    struct timespec ts = { 0, next * 1000 };
    if (ppoll(&pfd, 1, &ts, NULL) > 0 && (pfd.revents & POLLIN)) pub_read(&pc);
  }
  close(pc.fd);
  return NULL;
}

/* ---- the main loop ---- */

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
static void print_pct(const char *name, double p) {
  if (!nlat) { printf("\"%s\":null,", name); return; }
  size_t i = (size_t)(p / 100 * nlat);
  if (i >= nlat) i = nlat - 1;
  printf("\"%s\":%.3f,", name, latencies[i] / 1000.0);
}

/* Words the runner sent on stdin (START, FINISH), kept until asked for. */
static char line[256];
static int line_len, seen_start, seen_finish;
static int seen(const char *word) {
  return (!strcmp(word, "START") && seen_start) || (!strcmp(word, "FINISH") && seen_finish) ||
         (!strcmp(word, "SETUP") && ready_count == cfg.connections) || (!strcmp(word, "PUBLISHED") && publisher_done);
}
static void read_stdin(void) {
  ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
  if (n <= 0) exit(0); /* the runner went away */
  line_len += n;
  line[line_len] = 0;
  char *nl;
  while ((nl = strchr(line, '\n'))) {
    *nl = 0;
    if (!strcmp(line, "START")) seen_start = 1;
    if (!strcmp(line, "FINISH")) seen_finish = 1;
    memmove(line, nl + 1, line_len - (nl + 1 - line) + 1);
    line_len = strlen(line);
  }
}

/* Runs the loop until `until` (µs), or until `word` (a stdin line, SETUP or PUBLISHED) has come; returns 1 if it has. */
static int pump(int64_t until, const char *word) {
  struct epoll_event evs[512];
  for (;;) {
    if (word && seen(word)) return 1;
    int64_t left = until - now_us();
    if (left <= 0) return 0;
    int k = epoll_wait(epfd, evs, 512, left > 10000 ? 10 : (int)(left / 1000) + 1);
    for (int e = 0; e < k; e++) {
      void *ptr = evs[e].data.ptr;
      if (ptr == &done_pipe) {
        char d;
        if (read(done_pipe[0], &d, 1) < 0) die("pipe");
      } else if (ptr == NULL) read_stdin();
      else on_event(ptr, evs[e].events);
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: loadgen '<config json>'\n"); return 2; }
  parse_config(argv[1]);
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl)) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);

  int n = cfg.connections, every = n / SAMPLED > 1 ? n / SAMPLED : 1;
  conns = calloc(n, sizeof *conns);
  for (int i = 0; i < n; i++) {
    conns[i].index = i;
    conns[i].port = cfg.nports ? cfg.ports[i % cfg.nports] : cfg.port;
    conns[i].sampled = i % every == 0;
    conns[i].setup_left = setup_frames(i);
  }
  int slow = slow_count();
  for (int k = 0; k < slow; k++) conns[(k * every + every / 2) % n].slow = 1;

  epfd = epoll_create1(0);
  if (pipe(done_pipe) < 0) die("pipe");
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  ev.data.ptr = &done_pipe;
  epoll_ctl(epfd, EPOLL_CTL_ADD, done_pipe[0], &ev);

  int64_t setup_start = now_us();
  start_next();
  if (!pump(setup_start + 600000000LL, "SETUP")) { errno = 0; die("setup timed out"); }
  double setup_seconds = (now_us() - setup_start) / 1e6;
  printf("READY\n");
  pump(INT64_MAX, "START");

  running = 1;
  for (int i = 0; i < n; i++) if (conns[i].slow) epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i].fd, NULL);
  int64_t start = now_us();
  pthread_t pub;
  long long expected = 0, sent = 0;
  if (!strcmp(cfg.workload, "W5")) pump(start + cfg.duration * 1000000LL, NULL);
  else {
    if (pthread_create(&pub, NULL, publisher, NULL)) die("pthread_create");
    pump(INT64_MAX, "PUBLISHED");
    sent = pub_sent;
    expected = pub_expected;
  }
  /* Drain: until everything expected has arrived, or 5 s after the last publish. */
  int64_t deadline = now_us() + DRAIN_MICROS, last_change = now_us();
  uint64_t last = total_received;
  while ((long long)total_received < expected && now_us() < deadline) {
    pump(now_us() + 10000, NULL);
    if (total_received != last) { last = total_received; last_change = now_us(); }
  }
  uint64_t received = total_received;
  if (received != last) last_change = now_us();
  /* Publishes the server has not read by now count as lost: it could not take the offered load. */
  if (strcmp(cfg.workload, "W5")) { publisher_stop = 1; pthread_join(pub, NULL); }
  printf("DRAINED\n");
  pump(INT64_MAX, "FINISH");

  qsort(latencies, nlat, sizeof *latencies, cmp64);
  double elapsed = (last_change - start > 1 ? last_change - start : 1) / 1e6;
  int closed = 0, slow_closed = 0;
  for (int i = 0; i < n; i++) {
    if (conns[i].state != S_CLOSED) continue;
    closed++;
    if (conns[i].slow) slow_closed++;
  }
  double loss = expected ? 100.0 * (expected - ((long long)received < expected ? (long long)received : expected)) / expected : 0;
  printf("RESULT {\"sent\":%lld,\"expected\":%lld,\"received\":%llu,\"lossPct\":%.4f,\"deliveredPerSecond\":%.1f,\"elapsedSeconds\":%.3f,",
         sent, expected, (unsigned long long)received, loss, received / elapsed, elapsed);
  print_pct("p50", 50);
  print_pct("p99", 99);
  print_pct("p999", 99.9);
  printf("\"latencySamples\":%zu,\"closedByServer\":%d,\"slowClosed\":%d,\"slow\":%d,\"setupSeconds\":%.3f,\"generator\":\"c\"}\n",
         nlat, closed, slow_closed, slow, setup_seconds);
  return 0;
}
