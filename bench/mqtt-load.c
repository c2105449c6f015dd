/*
 * The MQTT fan-out load generator (W10, bench/mqtt-run.ts): `connections` MQTT 3.1.1 subscribers on
 * one topic, and a publisher thread offering `rate` PUBLISHes a second of `size`-byte payloads to it,
 * at QoS `qos` both ways (QoS 1: every delivery is acknowledged with a PUBACK as it is read). Payloads
 * are JSON ({"t":<scheduled send time, µs>,"p":"xxx…"}), which livehub passes on unchanged as it does any
 * JSON payload.
 *
 *   mqtt-load '{"port":P,"connections":1000,"rate":5000,"size":100,"duration":5,"qos":0}'
 *
 * The same stdio conversation as bench/loadgen.c: READY once every subscriber has its SUBACK, START,
 * DRAINED once everything expected arrived (or 5 s after the last publish), FINISH, RESULT {json}.
 * One thread holds every subscriber in one epoll loop, parsing only each packet's fixed header (and
 * the payload's timestamp on 64 sampled subscribers); the publisher stamps each payload with its
 * scheduled send time (CLOCK_MONOTONIC µs), so a busy receive loop does not delay the schedule.
 *
 *   cc -O2 -pthread -o mqtt-load bench/mqtt-load.c
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

#define TOPIC "bench/fanout"
#define SAMPLED 64
#define DRAIN_MICROS 5000000LL

static int port, connections = 1000, rate = 5000, size = 100, duration = 5, qos = 0;

typedef struct {
  int fd, index, ready, sampled;
  uint8_t *in; size_t in_len, in_cap; /* bytes of a packet not yet whole */
  uint8_t *out; size_t out_len;       /* PUBACKs the socket did not take */
  uint64_t received;
} sub_t;

static sub_t *subs;
static int epfd, ready_count, running;
static uint64_t total_received;
static int64_t *lat; static size_t nlat, caplat;
static volatile int pub_done, pub_stop;
static long long pub_sent;
static int done_pipe[2];

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static void die(const char *what) {
  fprintf(stderr, "mqtt-load: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}
static double num(const char *json, const char *key, double fallback) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *at = strstr(json, pat);
  return at ? strtod(at + strlen(pat), NULL) : fallback;
}

static int connect_to(int blocking) {
  int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

/* Writes all of `n` bytes on a socket that may be non-blocking (only during setup: small packets). */
static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) { struct pollfd pf = { fd, POLLOUT, 0 }; poll(&pf, 1, 100); continue; }
    if (w <= 0) die("write");
    p += w; n -= w;
  }
}

static size_t put_len(uint8_t *out, size_t len) {
  size_t k = 0;
  do { uint8_t b = len % 128; len /= 128; out[k++] = b | (len ? 128 : 0); } while (len);
  return k;
}

static void send_connect(int fd, const char *client) {
  uint8_t p[128], body[100];
  size_t b = 0, cl = strlen(client);
  memcpy(body, "\0\4MQTT\4\2\0\0", 10); /* protocol 3.1.1, clean session, keep alive off */
  b = 10;
  body[b++] = cl >> 8; body[b++] = cl & 255;
  memcpy(body + b, client, cl); b += cl;
  p[0] = 0x10;
  size_t h = 1 + put_len(p + 1, b);
  memcpy(p + h, body, b);
  write_all(fd, p, h + b);
}

static void send_subscribe(int fd) {
  uint8_t p[64];
  size_t tl = strlen(TOPIC), k = 0;
  p[k++] = 0x82; p[k++] = (uint8_t)(2 + 2 + tl + 1);
  p[k++] = 0; p[k++] = 1;
  p[k++] = 0; p[k++] = (uint8_t)tl;
  memcpy(p + k, TOPIC, tl); k += tl;
  p[k++] = (uint8_t)qos;
  write_all(fd, p, k);
}

/* One whole packet of a subscriber: CONNACK, SUBACK during setup; PUBLISH once running. */
static void on_packet(sub_t *s, const uint8_t *p, size_t len, uint8_t type, uint8_t flags, uint8_t *acks, size_t *nacks) {
  if (type == 2) { /* CONNACK */
    if (len < 2 || p[1] != 0) { errno = 0; die("CONNACK refused"); }
    send_subscribe(s->fd);
    return;
  }
  if (type == 9) { /* SUBACK */
    if (len < 3 || p[2] == 0x80) { errno = 0; die("SUBACK refused"); }
    if (!s->ready) { s->ready = 1; ready_count++; }
    return;
  }
  if (type != 3) return;
  int q = (flags >> 1) & 3;
  size_t tl = ((size_t)p[0] << 8) | p[1];
  size_t at = 2 + tl;
  if (q) {
    if (at + 2 > len) return;
    acks[(*nacks)++] = 0x40; acks[(*nacks)++] = 2; acks[(*nacks)++] = p[at]; acks[(*nacks)++] = p[at + 1];
    at += 2;
  }
  if (!running) return;
  s->received++;
  total_received++;
  if (s->sampled && at + 5 < len && !memcmp(p + at, "{\"t\":", 5)) {
    if (nlat == caplat) { caplat = caplat ? caplat * 2 : 65536; lat = realloc(lat, caplat * sizeof *lat); }
    lat[nlat++] = now_us() - strtoll((const char *)p + at + 5, NULL, 10);
  }
}

/* Splits bytes into packets (remaining-length framing), keeping a partial one for the next read. */
static void feed(sub_t *s, const uint8_t *p, size_t n) {
  static uint8_t acks[1 << 18];
  size_t nacks = 0;
  if (s->in_len) { /* join with what was left */
    if (s->in_len + n > s->in_cap) { s->in_cap = (s->in_len + n) * 2; s->in = realloc(s->in, s->in_cap); }
    memcpy(s->in + s->in_len, p, n);
    p = s->in; n += s->in_len; s->in_len = 0;
  }
  size_t off = 0;
  while (off < n) {
    size_t k = off + 1, len = 0, mul = 1;
    int whole = 0;
    while (k < n && k - off <= 4) { len += (p[k] & 127) * mul; mul *= 128; if (!(p[k++] & 128)) { whole = 1; break; } }
    if (!whole || k + len > n) break;
    on_packet(s, p + k, len, p[off] >> 4, p[off] & 15, acks, &nacks);
    off = k + len;
    if (nacks > sizeof acks - 8) { write_all(s->fd, acks, nacks); nacks = 0; }
  }
  if (off < n) {
    size_t left = n - off;
    if (p == s->in) memmove(s->in, p + off, left);
    else { if (left > s->in_cap) { s->in_cap = left * 2; s->in = realloc(s->in, s->in_cap); } memcpy(s->in, p + off, left); }
    s->in_len = left;
  }
  if (nacks) {
    ssize_t w = write(s->fd, acks, nacks);
    if (w < 0) w = 0;
    if ((size_t)w < nacks) write_all(s->fd, acks + w, nacks - w);
  }
}

static uint8_t rbuf[256 * 1024];
static void on_readable(sub_t *s) {
  for (;;) {
    ssize_t n = read(s->fd, rbuf, sizeof rbuf);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { if (!running) { errno = 0; die("a subscriber was closed during setup"); } epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL); close(s->fd); return; }
    feed(s, rbuf, n);
    if ((size_t)n < sizeof rbuf) return;
  }
}

static char line[256];
static int line_len, seen_start, seen_finish;
static void read_stdin(void) {
  ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
  if (n <= 0) exit(0);
  line_len += n; line[line_len] = 0;
  char *nl;
  while ((nl = strchr(line, '\n'))) {
    *nl = 0;
    if (!strcmp(line, "START")) seen_start = 1;
    if (!strcmp(line, "FINISH")) seen_finish = 1;
    memmove(line, nl + 1, strlen(nl + 1) + 1);
    line_len = strlen(line);
  }
}

/* Runs the loop until `until` µs, or until `cond()` holds. */
static int pump(int64_t until, int (*cond)(void)) {
  struct epoll_event evs[512];
  for (;;) {
    if (cond && cond()) return 1;
    int64_t left = until - now_us();
    if (left <= 0) return 0;
    int k = epoll_wait(epfd, evs, 512, left > 10000 ? 10 : (int)(left / 1000) + 1);
    for (int e = 0; e < k; e++) {
      void *ptr = evs[e].data.ptr;
      if (ptr == NULL) read_stdin();
      else if (ptr == (void *)done_pipe) { char d; if (read(done_pipe[0], &d, 1) < 0) die("pipe"); }
      else on_readable(ptr);
    }
  }
}
static int all_ready(void) { return ready_count == connections; }
static int started(void) { return seen_start; }
static int finished(void) { return seen_finish; }
static int published(void) { return pub_done; }

/* The publisher: its own connection, PUBLISHes at `rate`, its PUBACKs (QoS 1) read and dropped. */
static void *publisher(void *arg) {
  (void)arg;
  int fd = connect_to(1);
  send_connect(fd, "bench-publisher");
  uint8_t in[65536];
  if (read(fd, in, 4) < 4 || in[0] != 0x20 || in[3] != 0) { errno = 0; die("publisher CONNACK"); }
  if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
  size_t tl = strlen(TOPIC);
  size_t body = 2 + tl + (qos ? 2 : 0) + (size_t)size;
  uint8_t *pkt = malloc(body + 8);
  size_t cap = 1 << 20, len = 0, done = 0;
  uint8_t *out = malloc(cap);
  long long count = (long long)rate * duration, sent = 0;
  int64_t start = now_us() + 20000;
  for (;;) {
    int64_t now = now_us();
    while (sent < count) {
      int64_t at = start + sent * 1000000LL / rate;
      if (at > now) break;
      size_t k = 0;
      pkt[k++] = 0x30 | (qos << 1);
      k += put_len(pkt + k, body);
      pkt[k++] = 0; pkt[k++] = (uint8_t)tl;
      memcpy(pkt + k, TOPIC, tl); k += tl;
      if (qos) { uint16_t id = (uint16_t)(sent % 65535 + 1); pkt[k++] = id >> 8; pkt[k++] = id & 255; }
      /* JSON, so that every broker hands it on byte for byte: {"t":<scheduled µs>,"p":"xxx…"} */
      int w = snprintf((char *)pkt + k, (size_t)size + 1, "{\"t\":%lld,\"p\":\"", (long long)at);
      memset(pkt + k + w, 'x', (size_t)size - w - 2);
      memcpy(pkt + k + size - 2, "\"}", 2);
      k += (size_t)size;
      if (len + k > cap) { cap = (len + k) * 2; out = realloc(out, cap); }
      memcpy(out + len, pkt, k); len += k;
      sent++;
    }
    while (done < len) { ssize_t w = write(fd, out + done, len - done); if (w <= 0) break; done += w; }
    if (done == len) len = done = 0;
    while (read(fd, in, sizeof in) > 0) {} /* PUBACKs */
    if (sent >= count && !pub_done) {
      pub_sent = sent;
      __atomic_store_n(&pub_done, 1, __ATOMIC_RELEASE);
      if (write(done_pipe[1], "d", 1) != 1) die("pipe");
    }
    if (pub_stop) break;
    int64_t next = sent < count ? start + sent * 1000000LL / rate - now_us() : 10000;
    if (next > 1000) next = 1000;
    if (next < 0) next = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN | (len ? POLLOUT : 0) };
    struct timespec ts = { 0, next * 1000 };
    ppoll(&pfd, 1, &ts, NULL);
  }
  close(fd);
  return NULL;
}

static int cmp64(const void *a, const void *b) { int64_t x = *(const int64_t *)a, y = *(const int64_t *)b; return x < y ? -1 : x > y; }
static void pct(const char *name, double p) {
  if (!nlat) { printf("\"%s\":null,", name); return; }
  size_t i = (size_t)(p / 100 * nlat);
  if (i >= nlat) i = nlat - 1;
  printf("\"%s\":%.3f,", name, lat[i] / 1000.0);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: mqtt-load '<config json>'\n"); return 2; }
  port = (int)num(argv[1], "port", 0);
  connections = (int)num(argv[1], "connections", 1000);
  rate = (int)num(argv[1], "rate", 5000);
  size = (int)num(argv[1], "size", 100);
  duration = (int)num(argv[1], "duration", 5);
  qos = (int)num(argv[1], "qos", 0);
  if (size < 40) size = 40;
  struct rlimit rl = { connections + 64, connections + 64 };
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { getrlimit(RLIMIT_NOFILE, &rl); if (rl.rlim_cur < (rlim_t)connections + 64) die("open files limit"); }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  epfd = epoll_create1(0);
  if (pipe(done_pipe) < 0) die("pipe");
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  ev.data.ptr = (void *)done_pipe;
  epoll_ctl(epfd, EPOLL_CTL_ADD, done_pipe[0], &ev);

  subs = calloc(connections, sizeof *subs);
  int every = connections / SAMPLED > 1 ? connections / SAMPLED : 1;
  int64_t setup_start = now_us();
  for (int i = 0; i < connections; i++) {
    sub_t *s = &subs[i];
    s->index = i;
    s->sampled = i % every == 0;
    s->fd = connect_to(1);
    char id[32];
    snprintf(id, sizeof id, "bench-sub-%d", i);
    send_connect(s->fd, id);
    if (fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = s };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &e) < 0) die("epoll_ctl");
    if (i % 100 == 99) pump(now_us() + 1000, NULL);
  }
  if (!pump(setup_start + 120000000LL, all_ready)) { errno = 0; die("setup timed out"); }
  double setup_seconds = (now_us() - setup_start) / 1e6;
  printf("READY\n");
  pump(INT64_MAX, started);

  running = 1;
  int64_t start = now_us();
  pthread_t pub;
  if (pthread_create(&pub, NULL, publisher, NULL)) die("pthread_create");
  pump(INT64_MAX, published);
  long long expected = pub_sent * connections;
  int64_t deadline = now_us() + DRAIN_MICROS, last_change = now_us();
  uint64_t last = total_received;
  while ((long long)total_received < expected && now_us() < deadline) {
    pump(now_us() + 10000, NULL);
    if (total_received != last) { last = total_received; last_change = now_us(); }
  }
  uint64_t received = total_received;
  pub_stop = 1;
  pthread_join(pub, NULL);
  printf("DRAINED\n");
  pump(INT64_MAX, finished);
  qsort(lat, nlat, sizeof *lat, cmp64);
  double elapsed = (last_change - start > 1 ? last_change - start : 1) / 1e6;
  uint64_t counted = received < (uint64_t)expected ? received : (uint64_t)expected;
  double loss = expected ? 100.0 * (expected - (long long)counted) / expected : 0;
  printf("RESULT {\"sent\":%lld,\"expected\":%lld,\"received\":%llu,\"lossPct\":%.4f,\"deliveredPerSecond\":%.1f,\"elapsedSeconds\":%.3f,",
         pub_sent, expected, (unsigned long long)received, loss, received / elapsed, elapsed);
  pct("p50", 50); pct("p99", 99); pct("p999", 99.9);
  printf("\"latencySamples\":%zu,\"setupSeconds\":%.3f,\"qos\":%d}\n", nlat, setup_seconds, qos);
  return 0;
}
