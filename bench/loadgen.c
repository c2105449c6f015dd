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
 * everything expected arrived (or 5 s after the last publish), waits for FINISH, prints RESULT {json}
 * (fields as bench/loadgen.ts's: late and dropped apart, see tally()).
 * Protocols: "livehub" (also the naive hub), "socketio" (Engine.IO 4 over a WebSocket), "gohub"
 * (gorilla's chat hub, which joins queued messages with '\n' inside one frame: each line counts),
 * "centrifuge" (Centrifuge's JSON protocol, see centrifuge.c: one message a line too) and
 * "sse": subscribers open Server-Sent Events streams (GET /events?channel=…, read by sse.c) and wait
 * for a livehub "subscribed" event per channel; the publisher speaks "livehub" over a WebSocket.
 *
 * This file holds the subscribers, the stdio conversation and the results; wire.c the connections
 * and WebSocket frames, publisher.c the publisher thread, sse.c the SSE streams (see loadgen.h).
 * Built by bench/run.ts: cc -O2 -pthread bench/loadgen.c bench/wire.c bench/publisher.c bench/sse.c bench/centrifuge.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define DRAIN_MICROS 5000000LL
#define SAMPLED 64
#define PARALLEL_SETUPS 200
#define READ_BUF (256 * 1024)

struct config cfg;
static conn_t *conns;
static int epfd, started_setups, ready_count, running, upgraded;
static int64_t setup_start;
static double connect_seconds; /* until the last upgrade (or SSE stream) was answered */
static uint64_t total_received;
static int64_t *latencies;
static size_t nlat, caplat;
static uint8_t rbuf[READ_BUF];

int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}

/*
 * Several generators on one run (bench/w7-cluster.ts), each with its share of the subscribers:
 * "listen": N, with rate 0, makes one that publishes nothing and waits for N publishes to "c" from
 * another generator (started together), until the publishing schedule (duration) and the usual drain
 * are over; "latencyFile": "PATH" writes every sample, sorted, for the runner to merge.
 */
static void several_generators(const char *json) {
  const char *p = strstr(json, "\"listen\":");
  cfg.listen = p ? atoi(p + 9) : 0;
  p = strstr(json, "\"latencyFile\":\"");
  if (!p) return;
  const char *end = strchr(p += 15, '"');
  if (!end || end - p >= (long)sizeof cfg.latency_file) { errno = 0; die("latencyFile: a path of under 256 bytes, without quotes"); }
  memcpy(cfg.latency_file, p, end - p);
}
static void write_latencies(const int64_t *samples, size_t n) {
  FILE *f = fopen(cfg.latency_file, "wb");
  if (!f || fwrite(samples, sizeof *samples, n, f) != n || fclose(f)) die(cfg.latency_file);
}

/* ---- subscriptions ---- */

void channel_names(int i, char names[2][32], int *count) {
  if (is_w3() || is_w7()) { /* W3: personal and group of 10; W7: the shared "c" and personal */
    snprintf(names[0], 32, is_w3() ? "u%d" : "c", i);
    snprintf(names[1], 32, is_w3() ? "g%d" : "u%d", is_w3() ? i / 10 : i);
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
  if (cfg.protocol == P_CENTRIFUGE) { cf_subscribe(c, names, count); return; }
  for (int k = 0; k < count; k++) {
    if (cfg.protocol == P_SOCKETIO) snprintf(msg, sizeof msg, "42%d[\"subscribe\",\"%s\"]", k + 1, names[k]);
    else snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"channel\":\"%s\"%s}", names[k],
                  cfg.filter_half && c->index % 2 ? ",\"filter\":{\"region\":\"eu\"}" : "");
    send_str(c, msg);
  }
}

/** Frames a connection receives before it is subscribed everywhere. */
static int setup_frames(int i) {
  char names[2][32];
  int count;
  channel_names(i, names, &count);
  if (cfg.protocol == P_CENTRIFUGE) return 1 + count; /* the connect reply, then a reply per subscribe */
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

/*
 * livehub's first frame (`{"type":"connected",…}`, announcing its heartbeat period) and its heartbeats
 * (`{"type":"heartbeat"}`, 20 bytes, shorter than any hub message): neither a reply that counts toward
 * setup nor a message. A ready connection that is not sampled keeps 2 bytes of each message: the
 * length tells the heartbeat.
 */
static int is_keepalive(conn_t *c) {
  if (c->length == 20 && c->have >= 1 && c->prefix[0] == '{') return 1;
  return c->have >= 19 && !memcmp(c->prefix, "{\"type\":\"connected\"", 19);
}

void on_text(conn_t *c) {
  int n = c->have;
  if (cfg.protocol == P_SOCKETIO && c->length == 1) {
    if (c->prefix[0] == '2') send_str(c, "3"); /* engine.io ping */
    return;
  }
  if (cfg.protocol == P_LIVEHUB && is_keepalive(c)) return;
  if (c->publisher) {
    if (cfg.protocol == P_SOCKETIO && n >= 2 && !memcmp(c->prefix, "40", 2)) c->state = S_READY;
    if (cfg.protocol == P_CENTRIFUGE && c->state == S_SETUP) { /* the connect reply */
      c->prefix[n] = 0;
      cf_setup_reply(c, 1, 0);
      c->state = S_READY;
    }
    return;
  }
  /* gohub joins messages with '\n'; Centrifuge ends each one with it. */
  uint64_t lines = cfg.protocol == P_GOHUB ? 1 + c->lines : cfg.protocol == P_CENTRIFUGE && c->lines ? c->lines : 1;
  if (c->state == S_READY) {
    c->prefix[n] = 0;
    count_message(c, c->prefix, lines);
    return;
  }
  if (cfg.protocol == P_CENTRIFUGE) { /* replies: the connect's (nothing comes before it), then the subscribes' */
    c->prefix[n] = 0;
    if (cf_setup_reply(c, (int)lines, setup_frames(c->index))) send_subscribes(c);
    else if (c->setup_left <= 0) mark_ready(c);
    return;
  }
  if (cfg.protocol == P_SOCKETIO && n >= 2 && !memcmp(c->prefix, "40", 2)) send_subscribes(c);
  if (--c->setup_left == 0) mark_ready(c);
}

void close_conn(conn_t *c) {
  if (c->state == S_CLOSED) return;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = S_CLOSED;
}

static void start_next(void) {
  while (started_setups < cfg.connections && started_setups - ready_count < PARALLEL_SETUPS) {
    conn_t *c = &conns[started_setups++];
    c->fd = is_w7() ? connect_from(c->port, 0, source_address(c->index)) : connect_to(c->port, 0);
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
    if (++upgraded == cfg.connections) connect_seconds = (now_us() - setup_start) / 1e6;
    if (cfg.protocol == P_LIVEHUB) send_subscribes(c); /* an SSE stream names its channels in the URL */
    else if (cfg.protocol == P_SOCKETIO) send_str(c, "40"); /* connect to the main namespace */
    else if (cfg.protocol == P_CENTRIFUGE) cf_connect(c);
    if (c->setup_left == 0) mark_ready(c);
  }
  if (cfg.protocol == P_SSE) {
    if (sse_feed(&c->sse, rbuf + off, n - off, on_sse_event, c) < 0) { errno = 0; die("malformed chunked encoding"); }
    if (c->sse.ended) close_conn(c);
    return;
  }
  scan(c, rbuf + off, n - off);
}

int slow_count(void) {
  if (strcmp(cfg.workload, "W4")) return 0;
  int s = (int)(cfg.connections * cfg.slow_fraction);
  return s < 1 ? 1 : s;
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

/*
 * What did not arrive, per reader (the slow ones are not counted: they stopped reading on purpose):
 * `dropped` on connections the server closed, and on the others what was published after the server
 * closed the publisher's connection (publishes it never took); `late` the rest, missing on
 * connections still open when the drain ended.
 */
struct tally { long long late, dropped, taken; int closed, publisher_closed; };
static struct tally tally(long long sent) {
  struct tally t = { 0 };
  int n = cfg.connections;
  t.publisher_closed = __atomic_load_n(&publisher_closed, __ATOMIC_ACQUIRE);
  t.taken = t.publisher_closed && pub_taken < sent ? pub_taken : sent;
  long long *all = calloc(n, sizeof *all), *taken = calloc(n, sizeof *taken);
  if (strcmp(cfg.workload, "W5")) { expected_of(sent, all); expected_of(t.taken, taken); }
  for (int i = 0; i < n; i++) {
    conn_t *c = &conns[i];
    if (c->slow) continue;
    int gone = c->state == S_CLOSED;
    t.closed += gone;
    long long got = (long long)c->received < all[i] ? (long long)c->received : all[i], missing = all[i] - got;
    long long unpublished = all[i] - taken[i], cut = gone ? missing : missing < unpublished ? missing : unpublished;
    t.dropped += cut;
    t.late += missing - cut;
  }
  free(all);
  free(taken);
  return t;
}

/*
 * Slow subscribers the server closed. They stopped reading, so a close waits behind what fills their
 * buffers: read it all now (not counted), up to 2 s, and see which ones end.
 */
static int slow_closed_count(void) {
  int open = 0;
  running = 0;
  for (int i = 0; i < cfg.connections; i++) {
    if (!conns[i].slow || conns[i].state == S_CLOSED) continue;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) == 0) open++;
  }
  for (int64_t until = now_us() + 2000000; open > 0 && now_us() < until;) {
    pump(now_us() + 10000, NULL);
    open = 0;
    for (int i = 0; i < cfg.connections; i++) open += conns[i].slow && conns[i].state != S_CLOSED;
  }
  int closed = 0;
  for (int i = 0; i < cfg.connections; i++) closed += conns[i].slow && conns[i].state == S_CLOSED;
  return closed;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: loadgen '<config json>'\n"); return 2; }
  read_config(argv[1]);
  several_generators(argv[1]);
  if (raise_file_limit(cfg.connections + 64L) < 0) return 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);

  int n = cfg.connections, every = n / SAMPLED > 1 && !is_w7() ? n / SAMPLED : 1; /* W7: every delivery timed */
  conns = calloc(n, sizeof *conns);
  for (int i = 0; i < n; i++) {
    conns[i].index = cfg.first + i;
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

  setup_start = now_us();
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
  if (cfg.listen) { /* another generator publishes, from the same start */
    expected = (long long)cfg.listen * (n - slow_count());
    deadline = start + cfg.duration * 1000000LL + DRAIN_MICROS;
  }
  uint64_t last = total_received;
  while ((long long)total_received < expected && now_us() < deadline) {
    pump(now_us() + 10000, NULL);
    if (total_received != last) { last = total_received; last_change = now_us(); }
  }
  uint64_t received = total_received;
  if (received != last) last_change = now_us();
  struct tally t = tally(sent);
  /* Publishes the server has not read by now count as late: it could not take the offered load. */
  if (strcmp(cfg.workload, "W5")) { publisher_stop = 1; pthread_join(pub, NULL); }
  printf("DRAINED\n");
  pump(INT64_MAX, "FINISH");
  int slow_closed = slow_closed_count();

  qsort(latencies, nlat, sizeof *latencies, cmp64);
  if (cfg.latency_file[0]) write_latencies(latencies, nlat);
  double elapsed = (last_change - start > 1 ? last_change - start : 1) / 1e6;
  double pct = expected ? 100.0 / expected : 0;
  printf("RESULT {\"sent\":%lld,\"expected\":%lld,\"received\":%llu,\"late\":%lld,\"dropped\":%lld,\"latePct\":%.4f,\"droppedPct\":%.4f,"
         "\"lossPct\":%.4f,\"deliveredPerSecond\":%.1f,\"elapsedSeconds\":%.3f,",
         sent, expected, (unsigned long long)received, t.late, t.dropped, t.late * pct, t.dropped * pct,
         (t.late + t.dropped) * pct, received / elapsed, elapsed);
  print_pct("p50", 50);
  print_pct("p99", 99);
  print_pct("p999", 99.9);
  printf("\"latencySamples\":%zu,\"closedByServer\":%d,\"slowClosed\":%d,\"slow\":%d,\"publisherClosed\":%d,\"publishedBeforeClose\":%lld,"
         "\"setupSeconds\":%.3f,\"connectSeconds\":%.3f,\"generator\":\"c\"}\n",
         nlat, t.closed + slow_closed, slow_closed, slow, t.publisher_closed, t.publisher_closed ? t.taken : sent, setup_seconds, connect_seconds);
  return 0;
}
