/*
 * W8, the reconnect storm: N WebSocket connections, each subscribed to its personal channel u<i> and
 * its group's channel g<i/group>, while one publisher connection publishes a sequence number per
 * channel at a steady rate. The runner (bench/storm-run.ts) restarts a server node; every connection
 * then reconnects as a real client does (livehub's client: full-jitter backoff from 500 ms, capped at
 * 30 s, the ceiling held at 2 s for 10 s after a 1012 close, resubscribing from the last offset and
 * epoch it saw; Socket.IO's client: ±50% around a delay doubling from 1 s, capped at 5 s,
 * reconnecting with its session id and last packet offset), and counts what it never got (gaps in the sequence) and what it got twice.
 *
 *   storm '<json>'   fields: protocol ("livehub" | "socketio"), ports [..], home (node the subscribers
 *                    start on), publisherNode, failover (1: each new attempt goes to the next node, as a
 *                    load balancer routes around a dead one), connections, group, rate (publishes/s)
 *
 * Stdio: READY once every connection is subscribed; then START (publishing begins), MARK (the runner
 * is about to stop the node: time zero), STOP (publishing ends; RESULT {json} follows after 2 s).
 * After MARK it prints "BACK <pct> <ms>" when 99% and 100% of the connections are back and subscribed.
 *
 * Built by bench/storm-run.ts: cc -O2 -o storm bench/storm.c bench/storm-proto.c bench/storm-count.c bench/wire.c bench/sse.c
 * (wire.c's frame scanner and client frames; its connect and upgrade-answer functions end the process
 * on a refused connection or a 503, which a storm meets by design, so this file has its own).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "storm.h"

#define PARALLEL_SETUPS 200
#define RESTART_WINDOW 10000000 /* livehub's client: reconnect.restartWindow, 10 s by default */

struct config cfg;
struct storm_config scfg = { .connect_timeout = 10000000, .subscribe_timeout = 10000000 };
conn_t *conns, pub;
ext_t *ext;
static ext_t pub_ext;
int nconns, marked, pub_generation;
int64_t mark_at;
static int epfd, ready_count, started, back_count, printed99, printed100, publishing;
static long long attempts_total, refused, http_refused, connect_timeouts, redrops, sub_timeouts;
static int64_t t99 = -1, t100 = -1;
static uint8_t rbuf[256 * 1024];

int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
void die(const char *what) {
  fprintf(stderr, "storm: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}
/* wire.c links against these (SSE streams, not used here). */
void channel_names(int i, char names[2][32], int *count) { (void)i; (void)names; *count = 0; }
int slow_count(void) { return 0; }

ext_t *ex(conn_t *c) { return c == &pub ? &pub_ext : &ext[c->index]; }

/* ---- deadlines: a binary heap of (time, connection), stale entries skipped when popped ---- */

typedef struct { int64_t at; int idx; } tmr_t;
static tmr_t *heap;
static int nheap, capheap;
void arm(conn_t *c, int64_t at) {
  ex(c)->timer = at;
  if (!at) return;
  if (nheap == capheap) { capheap = capheap ? capheap * 2 : 4096; heap = realloc(heap, capheap * sizeof *heap); }
  int i = nheap++;
  while (i && heap[(i - 1) / 2].at > at) { heap[i] = heap[(i - 1) / 2]; i = (i - 1) / 2; }
  heap[i] = (tmr_t){ at, c == &pub ? -1 : c->index };
}
static tmr_t heap_pop(void) {
  tmr_t top = heap[0], last = heap[--nheap];
  int i = 0;
  for (;;) {
    int k = 2 * i + 1;
    if (k >= nheap) break;
    if (k + 1 < nheap && heap[k + 1].at < heap[k].at) k++;
    if (heap[k].at >= last.at) break;
    heap[i] = heap[k];
    i = k;
  }
  if (nheap) heap[i] = last;
  return top;
}

/* ---- connections ---- */

static double rnd(void) { return (double)random() / ((double)RAND_MAX + 1); }

/* The client's next reconnect delay (µs) after `attempts` failures in a row. */
int64_t backoff(int attempts) {
  if (scfg.jitter == J_SOCKETIO) { /* socket.io-client's Backoff: 1 s × 2^n, ±50%, at most 5 s */
    double ms = 1000.0 * (1 << (attempts < 10 ? attempts : 10)), r = rnd();
    double dev = (double)(long long)(r * 0.5 * ms);
    ms = ((long long)(r * 10) & 1) == 0 ? ms - dev : ms + dev;
    return (int64_t)((ms < 5000 ? ms : 5000) * 1000);
  }
  double ceiling = 500.0 * (1 << (attempts < 10 ? attempts : 10)); /* livehub: random [0, min(30 s, 500 ms × 2^n)) */
  return (int64_t)(rnd() * (ceiling < 30000 ? ceiling : 30000) * 1000);
}

static void start_connect(conn_t *c) {
  ext_t *e = ex(c);
  int node = c == &pub ? scfg.publisher_node : e->node;
  c->port = scfg.ports[node];
  attempts_total++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(c->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  c->state = S_CONNECTING;
  e->phase = PH_CONNECTING;
  c->head_len = 0;
  c->hdr_have = c->in_frame = 0;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    if (errno == ECONNREFUSED) refused++;
    close(c->fd);
    c->state = S_CLOSED;
    storm_close(c, 1);
    return;
  }
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  arm(c, now_us() + scfg.connect_timeout);
}

/* Closes the socket (if open) and schedules the next attempt. `failed`: the attempt never got to subscribed. */
void storm_close(conn_t *c, int failed) {
  ext_t *e = ex(c);
  (void)failed;
  if (c->state != S_CLOSED || e->phase != PH_WAIT) {
    if (c->fd >= 0) { epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1; }
  }
  c->state = S_CLOSED;
  if (e->phase == PH_READY && c != &pub && marked) {
    if (e->back) redrops++;
    if (!e->down) { e->down = 1; e->down_at = now_us(); }
  }
  e->phase = PH_WAIT;
  if (c == &pub) { arm(c, now_us() + 100000); return; } /* a service: retries every 100 ms */
  /* livehub's client: within reconnect.restartWindow of a 1012 close, every wait is the first step's */
  int64_t delay;
  if (scfg.jitter == J_LIVEHUB && now_us() < e->restart_until) { /* the ceiling held at 4 × 500 ms (client/backoff.ts) */
    int n = e->attempts++;
    double ceiling = 500.0 * (1 << (n < 3 ? n : 3));
    delay = (int64_t)(rnd() * (ceiling < 2000 ? ceiling : 2000) * 1000);
  } else delay = backoff(e->attempts++);
  if (scfg.failover && scfg.nports > 1) e->node = (e->node + 1) % scfg.nports;
  arm(c, now_us() + delay);
}

void close_conn(conn_t *c) { /* wire.c: a close frame arrived; answer it and go */
  uint8_t frame[16];
  if (c->ctl_have >= 2 && ((uint8_t)c->ctl[0] << 8 | (uint8_t)c->ctl[1]) == 1012) ex(c)->restart_until = now_us() + RESTART_WINDOW;
  size_t n = client_frame(frame, 8, c->ctl, c->ctl_have >= 2 ? 2 : 0);
  if (write(c->fd, frame, n) < 0) { /* the peer may be gone already */ }
  storm_close(c, ex(c)->phase != PH_READY);
}

void became_ready(conn_t *c) {
  ext_t *e = ex(c);
  e->phase = PH_READY;
  arm(c, 0);
  if (c == &pub) { if (marked) pub_generation = 1; pub_opened(); return; }
  if (!e->ever_ready) { e->ever_ready = 1; ready_count++; }
  if (!marked) return;
  if (e->down && !e->back) {
    e->back = 1;
    back_count++;
    int64_t ms = (now_us() - mark_at) / 1000;
    if (!printed99 && back_count * 100LL >= 99LL * nconns) { printed99 = 1; t99 = ms; printf("BACK 99 %lld\n", (long long)ms); }
    if (!printed100 && back_count == nconns) { printed100 = 1; t100 = ms; printf("BACK 100 %lld\n", (long long)ms); }
  }
}

/* Sends one text frame; a socket that cannot take it whole is closed (and reconnects). Returns -1 then. */
int send_msg(conn_t *c, const char *s) {
  uint8_t frame[600];
  size_t n = strlen(s);
  if (n > sizeof frame - 14) { errno = 0; die("message too long"); }
  size_t len = client_frame(frame, 1, s, n);
  if (write(c->fd, frame, len) != (ssize_t)len) { storm_close(c, 1); return -1; }
  return 0;
}

static void write_request(conn_t *c) {
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   cfg.protocol == P_SOCKETIO ? "/socket.io/?EIO=4&transport=websocket" : "/", c->port,
                   cfg.protocol == P_LIVEHUB ? "Sec-WebSocket-Protocol: livehub.v1\r\n" : "");
  if (write(c->fd, req, n) != n) { storm_close(c, 1); return; }
  c->state = S_UPGRADING;
  ex(c)->phase = PH_UPGRADING;
}

void on_text(conn_t *c) { /* wire.c: a whole message; its first PREFIX_SAMPLED bytes are in c->prefix */
  c->prefix[c->have] = 0;
  proto_text(c, c->prefix, c->have);
}

static void on_event(conn_t *c, uint32_t events) {
  ext_t *e = ex(c);
  if (e->phase == PH_CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { if (err == ECONNREFUSED) refused++; storm_close(c, 1); return; }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    write_request(c);
    return;
  }
  ssize_t n = read(c->fd, rbuf, sizeof rbuf);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) { storm_close(c, e->phase != PH_READY); return; }
  size_t off = 0;
  if (e->phase == PH_UPGRADING) {
    int used = upgrade_head(c, rbuf, n); /* a 503 while a node drains is a failed attempt */
    if (used == -1) return;
    if (used == -2) { http_refused++; storm_close(c, 1); return; }
    off = used;
    c->state = S_READY; /* wire.c's scan reads frames from here on */
    c->sampled = 1;
    e->attempts = 0;    /* both clients reset their backoff once a connection opens */
    e->restart_until = 0;
    proto_opened(c);
    if (c->state == S_CLOSED) return;
  }
  scan(c, rbuf + off, n - off);
  if (c->state == S_CLOSED && e->phase != PH_WAIT) storm_close(c, e->phase != PH_READY);
}

/* ---- stdio, the loop ---- */

static char line[256];
static int line_len, seen_start, seen_stop;
static void read_stdin(void) {
  ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
  if (n <= 0) exit(0); /* the runner went away */
  line_len += n;
  line[line_len] = 0;
  char *nl;
  while ((nl = strchr(line, '\n'))) {
    *nl = 0;
    if (!strcmp(line, "START")) seen_start = 1;
    if (!strcmp(line, "MARK")) { marked = 1; mark_at = now_us(); }
    if (!strcmp(line, "STOP")) seen_stop = 1;
    memmove(line, nl + 1, line_len - (nl + 1 - line) + 1);
    line_len = strlen(line);
  }
}

static void fire_timers(int64_t now) {
  while (nheap && heap[0].at <= now) {
    tmr_t t = heap_pop();
    conn_t *c = t.idx < 0 ? &pub : &conns[t.idx];
    ext_t *e = ex(c);
    if (e->timer != t.at) continue;
    e->timer = 0;
    if (e->phase == PH_WAIT) start_connect(c);
    else if (e->phase == PH_SUBSCRIBING) { sub_timeouts++; proto_retry(c); }
    else if (e->phase != PH_READY) { connect_timeouts++; storm_close(c, 1); }
  }
}

static void pump(int64_t until, int *flag) {
  struct epoll_event evs[512];
  while (!(flag && *flag)) {
    int64_t now = now_us();
    if (now >= until) return;
    fire_timers(now);
    while (!marked && started < nconns && started - ready_count < PARALLEL_SETUPS) start_connect(&conns[started++]);
    if (publishing) pub_tick(now);
    int64_t wait = until - now;
    if (nheap && heap[0].at - now < wait) wait = heap[0].at - now;
    int ms = wait > 2000 ? 2 : (int)(wait / 1000);
    int k = epoll_wait(epfd, evs, 512, ms);
    for (int i = 0; i < k; i++) {
      if (evs[i].data.ptr == NULL) read_stdin();
      else on_event(evs[i].data.ptr, evs[i].events);
    }
  }
}

static int all_ready;
static void parse_config(const char *json) {
  const char *p = strstr(json, "\"protocol\":");
  cfg.protocol = p && !strncmp(p + 11, "\"socketio\"", 10) ? P_SOCKETIO : P_LIVEHUB;
  scfg.jitter = cfg.protocol == P_SOCKETIO ? J_SOCKETIO : J_LIVEHUB;
  /* livehub's client: connectTimeout 10 s until open, ackTimeout 10 s per subscribe; socket.io-client: timeout 20 s until Engine.IO opens. */
  scfg.connect_timeout = cfg.protocol == P_SOCKETIO ? 20000000 : 10000000;
#define NUM(key, dflt) ((p = strstr(json, "\"" key "\":")) ? strtod(p + strlen(key) + 3, NULL) : (dflt))
  nconns = (int)NUM("connections", 10000);
  scfg.home = (int)NUM("home", 0);
  scfg.publisher_node = (int)NUM("publisherNode", 0);
  scfg.failover = (int)NUM("failover", 0);
  scfg.group = (int)NUM("group", 100);
  scfg.rate = (int)NUM("rate", 500);
  if ((p = strstr(json, "\"ports\":[")))
    for (char *end, *q = (char *)p + 9; *q && *q != ']' && scfg.nports < 8; q = end + (end[0] == ',')) scfg.ports[scfg.nports++] = (int)strtol(q, &end, 10);
  if (!scfg.nports || scfg.home >= scfg.nports || scfg.publisher_node >= scfg.nports) { errno = 0; die("config: ports, home or publisherNode missing or out of range"); }
}

static void result(void) {
  long long lost[3] = { 0 }, still_down = 0, recovered = 0, not_recovered = 0;
  count_lost(lost);
  for (int i = 0; i < nconns; i++) {
    if (ext[i].down && !ext[i].back) still_down++;
    recovered += ext[i].recovered;
    not_recovered += ext[i].not_recovered;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("RESULT {\"connections\":%d,\"t99Ms\":%lld,\"t100Ms\":%lld,\"back\":%d,\"stillDown\":%lld,\"recovered\":%lld,\"notRecovered\":%lld,"
         "\"lost\":%lld,\"lostBeforeRestart\":%lld,\"lostAfterRestart\":%lld,\"unackedMissing\":%lld,\"doubled\":%lld,\"gaps\":%lld,\"published\":%lld,\"acked\":%lld,\"queued\":%lld,\"resent\":%lld,"
         "\"attempts\":%lld,\"refused\":%lld,\"httpRefused\":%lld,\"connectTimeouts\":%lld,\"subscribeErrors\":%lld,\"subscribeTimeouts\":%lld,\"resets\":%lld,\"redrops\":%lld,"
         "\"generatorCpuSeconds\":%.2f}\n",
         nconns, (long long)t99, (long long)t100, back_count, still_down, recovered, not_recovered, lost[1] + lost[2], lost[1], lost[2], lost[0], dup_total, gaps_total,
         pub_count, pub_acked, pub_queued, pub_resent, attempts_total, refused, http_refused, connect_timeouts, sub_errors, sub_timeouts, resets, redrops,
         ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: storm '<config json>'\n"); return 2; }
  parse_config(argv[1]);
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl)) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  srandom((unsigned)now_us());
  channels_init(nconns + (nconns + scfg.group - 1) / scfg.group);
  conns = calloc(nconns, sizeof *conns);
  ext = calloc(nconns, sizeof *ext);
  for (int i = 0; i < nconns; i++) {
    conns[i].index = i;
    conns[i].fd = -1;
    conns[i].state = S_CLOSED;
    ext[i].node = scfg.home;
    ext[i].sub[0].channel = i;
    ext[i].sub[1].channel = nconns + i / scfg.group;
  }
  pub.index = -1;
  pub.fd = -1;
  pub.state = S_CLOSED;
  epfd = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);

  int64_t began = now_us();
  while (ready_count < nconns) {
    pump(now_us() + 100000, NULL);
    if (now_us() - began > 600000000LL) { errno = 0; die("setup timed out"); }
  }
  start_connect(&pub);
  while (pub_ext.phase != PH_READY) pump(now_us() + 10000, NULL);
  all_ready = 1;
  fprintf(stderr, "storm: %d connections subscribed in %.1f s\n", nconns, (now_us() - began) / 1e6);
  printf("READY\n");
  pump(INT64_MAX, &seen_start);
  pub_start();
  publishing = 1;
  pump(INT64_MAX, &seen_stop);
  publishing = 0;
  pub_stop();
  pump(now_us() + 2000000, NULL); /* what is in flight arrives */
  result();
  return 0;
}
