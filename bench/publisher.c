/*
 * The C load generator's publisher thread (see loadgen.h): one WebSocket connection, messages
 * stamped with their scheduled send time, so a busy receive loop cannot delay the schedule.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

volatile int publisher_done, publisher_stop, publisher_closed;
long long pub_sent, pub_expected, pub_taken;
int done_pipe[2];

typedef struct { uint8_t *data; size_t len, cap; } buf_t;
static void buf_put(buf_t *b, const uint8_t *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}


static void pub_read(conn_t *c) {
  uint8_t in[16384];
  ssize_t n = read(c->fd, in, sizeof in);
  if (n == 0 || (n < 0 && errno != EAGAIN)) c->state = S_CLOSED;
  if (n <= 0) return;
  size_t off = 0;
  if (c->state == S_UPGRADING) {
    int used = upgrade_reply(c, in, n);
    if (used < 0) return;
    off = used;
    c->state = cfg.protocol == P_SOCKETIO || cfg.protocol == P_CENTRIFUGE ? S_SETUP : S_READY;
    if (cfg.protocol == P_SOCKETIO) send_str(c, "40");
    if (cfg.protocol == P_CENTRIFUGE) cf_connect(c);
  }
  scan(c, in + off, n - off);
}

/* Where each publish in the buffer ends, to tell how many went out whole. */
static size_t *ends;
static size_t nends, capends;
static long long flushed; /* publishes written whole before the buffer was last emptied */

static void pub_flush(conn_t *c, buf_t *out, size_t *done) {
  while (*done < out->len) {
    ssize_t w = write(c->fd, out->data + *done, out->len - *done);
    if (w < 0 && errno != EAGAIN) c->state = S_CLOSED;
    if (w <= 0) return;
    *done += w;
  }
  flushed += nends;
  out->len = *done = nends = 0;
}

/* Publishes written whole so far. */
static long long written(size_t done) {
  long long k = flushed;
  for (size_t i = 0; i < nends && ends[i] <= done; i++) k++;
  return k;
}

/*
 * Deliveries each subscriber expects of the first `publishes` publishes of the schedule below:
 * out[i] for subscriber index i (W3: its own channel's and its group's share; else every publish).
 */
void expected_of(long long publishes, long long *out) {
  int n = cfg.connections;
  if (!is_w3()) { for (int i = 0; i < n; i++) out[i] = publishes; return; }
  int groups = (n + 9) / 10;
  long long evens = (publishes + 1) / 2; /* publish 2k goes to group k % groups */
  for (int i = 0; i < n; i++) out[i] = evens / groups + (i / 10 < evens % groups);
  for (long long s = 1; s < publishes; s += 2) out[(s * 7919) % n]++;
}

void *publisher(void *arg) {
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
      int len = cfg.protocol == P_CENTRIFUGE ? cf_publish(msg, sent + 2, channel, (long long)at, pad)
        : cfg.protocol == P_SOCKETIO
        ? sprintf(msg, "42[\"publish\",{\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"t\":%lld,\"p\":\"%s\"}}]", channel, (long long)at, pad)
        : sprintf(msg, "{\"type\":\"publish\",\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"t\":%lld,\"p\":\"%s\"}}", channel, (long long)at, pad);
      buf_put(&out, frame, client_frame(frame, 1, msg, len));
      if (nends == capends) ends = realloc(ends, (capends = capends ? capends * 2 : 4096) * sizeof *ends);
      ends[nends++] = out.len;
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
    if (pc.state == S_CLOSED && !publisher_closed) {
      /* What was not written whole by now the server never took: those deliveries count as dropped. */
      pub_taken = written(done);
      __atomic_store_n(&publisher_closed, 1, __ATOMIC_RELEASE);
      fprintf(stderr, "loadgen: the server closed the publisher connection after %lld publishes\n", pub_taken);
    }
    /* Stopped: the connection stays open until the generator exits, so that a server counting the
       clients it closed does not count this one when a reply meets the closed socket. */
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
  return NULL;
}
