/*
 * The limit: the least work a hub can do for the benchmark's livehub workloads, as a floor to
 * compare servers with. One thread, epoll, non-blocking sockets, writev.
 *
 *   limit --port N     (0: any free port; prints "READY <port>" once listening on 127.0.0.1)
 *
 * It speaks the wire the load generator speaks to livehub: the WebSocket upgrade (with the
 * livehub.v1 subprotocol), masked client frames in, unmasked server frames out, and livehub's
 * frames: {"type":"connected"} first, {"type":"subscribed",…} for a subscribe, {"type":"ack",…} for
 * a publish with an id, and each publication as {"channel":C,"type":T,"data":D,"offset":N,
 * "from":{"client":ID}}. It reads commands whose first key is "type" and finds only the fields it
 * copies (channel, event, data, id); nothing is validated.
 *
 * Each turn of the loop reads every readable socket, appends each publication's frame to its
 * channel's buffer (encoded once), then gives every subscriber the buffers of its channels that got
 * publications in one writev; what a socket does not take waits in the connection's output buffer
 * until EPOLLOUT. GET /__bench/stats answers the counters (frames written, writev calls); GET
 * /__bench/reset answers "ok".
 *
 * This file holds the loop, the connections, the channels and the writes; limit-wire.c HTTP, the
 * upgrade, client frames and the commands (see limit.h).
 * Built by bench/limit-server.ts: cc -O2 -o limit bench/servers/limit.c bench/servers/limit-wire.c -lcrypto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "limit.h"

#define MAX_IOV 64
#define EVENTS 4096

static int ep, lfd, accepting = 1;
static uint8_t rbuf[256 * 1024];
char prefix[16];
unsigned next_id;
uint64_t frames, writes, publishes, deliveries, bytes_out, nconns, nchannels;
static channel_t **table; static size_t table_cap;
static channel_t **dirty; static size_t ndirty, capdirty;
static conn_t **touched, **dead; static size_t ntouched, captouched, ndead, capdead;

static void drop(buf_t *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }

/* ---- channels: an open-addressing table by name ---- */

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  while (n--) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
  return h;
}
channel_t *channel(const char *name, size_t len) {
  if (nchannels * 2 >= table_cap) {
    size_t cap = table_cap ? table_cap * 2 : 1024;
    channel_t **t = calloc(cap, sizeof *t);
    for (size_t i = 0; i < table_cap; i++) if (table[i]) {
      size_t j = table[i]->hash & (cap - 1);
      while (t[j]) j = (j + 1) & (cap - 1);
      t[j] = table[i];
    }
    free(table); table = t; table_cap = cap;
  }
  uint64_t h = fnv(name, len);
  size_t j = h & (table_cap - 1);
  for (; table[j]; j = (j + 1) & (table_cap - 1))
    if (table[j]->hash == h && table[j]->len == len && !memcmp(table[j]->name, name, len)) return table[j];
  channel_t *ch = calloc(1, sizeof *ch);
  ch->name = strndup(name, len); ch->len = len; ch->hash = h; ch->serial = ++nchannels;
  return table[j] = ch;
}

void unsubscribe_at(conn_t *c, int slot) {
  struct sub s = c->subs[slot];
  struct member moved = s.ch->members[--s.ch->n];
  if (s.pos != s.ch->n) { s.ch->members[s.pos] = moved; moved.c->subs[moved.slot].pos = s.pos; }
  struct sub last = c->subs[--c->nsubs];
  if (slot != c->nsubs) { c->subs[slot] = last; last.ch->members[last.pos].slot = slot; }
}

int join(conn_t *c, channel_t *ch) {
  for (int k = 0; k < c->nsubs; k++) if (c->subs[k].ch == ch) return 0;
  GROW(ch->members, ch->n, ch->cap);
  GROW(c->subs, c->nsubs, c->capsubs);
  ch->members[ch->n] = (struct member){ c, c->nsubs };
  c->subs[c->nsubs++] = (struct sub){ ch, ch->n++ };
  return 1;
}

void published(channel_t *ch) {
  ch->batch_frames++;
  publishes++;
  if (!ch->dirty) { ch->dirty = 1; GROW(dirty, ndirty, capdirty); dirty[ndirty++] = ch; }
}

/* ---- output ---- */

void touch(conn_t *c) { if (!c->touched) { c->touched = 1; GROW(touched, ntouched, captouched); touched[ntouched++] = c; } }

void frame_to(buf_t *b, int opcode, const char *p, size_t n) {
  uint8_t h[10];
  put(b, h, frame_head(h, opcode, n));
  put(b, p, n);
}
/* A frame of the connection's own (a reply), written with the turn's deliveries. */
void reply(conn_t *c, const char *p, size_t n) { frame_to(&c->out, 1, p, n); frames++; touch(c); }

static void kill_conn(conn_t *c) {
  if (c->dead) return;
  while (c->nsubs) unsubscribe_at(c, c->nsubs - 1);
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->dead = 1; nconns--;
  GROW(dead, ndead, capdead); dead[ndead++] = c;
  if (!accepting) { /* a descriptor is free again */
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
    accepting = 1;
  }
}

/* Sends a close frame and stops reading and delivering; the connection closes once it is written. */
void close_with(conn_t *c, int code, const char *why) {
  char p[125] = { (char)(code >> 8), (char)code };
  size_t n = strlen(why) < 123 ? strlen(why) : 123;
  memcpy(p + 2, why, n);
  frame_to(&c->out, 8, p, n + 2);
  while (c->nsubs) unsubscribe_at(c, c->nsubs - 1);
  c->closing = 1;
  touch(c);
}

static void arm(conn_t *c, int out) {
  c->blocked = out;
  struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* One writev of `iov`; what the socket does not take goes to the output buffer, to wait for EPOLLOUT. */
static void write_out(conn_t *c, struct iovec *iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (!total) return;
  ssize_t w = writev(c->fd, iov, n);
  if (c->ws) writes++;
  if (w < 0 && errno != EAGAIN && errno != EINTR) { kill_conn(c); return; }
  size_t skip = w < 0 ? 0 : (size_t)w;
  bytes_out += skip;
  if (skip == total) {
    drop(&c->out);
    if (c->blocked) arm(c, 0);
    if (c->closing) kill_conn(c);
    return;
  }
  buf_t rest = { 0 };
  for (int i = 0; i < n; i++) {
    if (skip >= iov[i].iov_len) { skip -= iov[i].iov_len; continue; }
    put(&rest, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
    skip = 0;
  }
  drop(&c->out);
  c->out = rest;
  if (!c->blocked) arm(c, 1);
}

static void flush_out(conn_t *c) {
  struct iovec iov = { c->out.data, c->out.len };
  write_out(c, &iov, c->out.len ? 1 : 0);
}

/* The end of a turn: each channel's batch to each of its subscribers, one writev per connection. */
static void deliver(void) {
  for (size_t d = 0; d < ndirty; d++) {
    channel_t *ch = dirty[d];
    for (int m = 0; m < ch->n; m++) {
      conn_t *c = ch->members[m].c;
      GROW(c->turn, c->nturn, c->capturn);
      c->turn[c->nturn++] = ch;
      frames += ch->batch_frames;
      deliveries += ch->batch_frames;
      touch(c);
    }
  }
  for (size_t t = 0; t < ntouched; t++) {
    conn_t *c = touched[t];
    c->touched = 0;
    if (c->dead) continue;
    /* Blocked (waiting for EPOLLOUT), or more channels than one writev takes (rare): copied behind what waits. */
    if (c->blocked || c->nturn >= MAX_IOV) {
      for (int k = 0; k < c->nturn; k++) put(&c->out, c->turn[k]->batch.data, c->turn[k]->batch.len);
      c->nturn = 0;
      if (!c->blocked) flush_out(c);
      continue;
    }
    struct iovec iov[MAX_IOV];
    int n = 0;
    if (c->out.len) iov[n++] = (struct iovec){ c->out.data, c->out.len };
    for (int k = 0; k < c->nturn; k++) iov[n++] = (struct iovec){ c->turn[k]->batch.data, c->turn[k]->batch.len };
    c->nturn = 0;
    write_out(c, iov, n);
  }
  ntouched = 0;
  for (size_t d = 0; d < ndirty; d++) { dirty[d]->batch.len = 0; dirty[d]->batch_frames = 0; dirty[d]->dirty = 0; }
  ndirty = 0;
  for (size_t k = 0; k < ndead; k++) { drop(&dead[k]->in); drop(&dead[k]->out); free(dead[k]->subs); free(dead[k]->turn); free(dead[k]); }
  ndead = 0;
}

/* ---- the loop ---- */

static void on_readable(conn_t *c) {
  for (;;) {
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) { kill_conn(c); return; }
    if (c->closing) continue; /* answered already: the rest is not read */
    uint8_t *p = rbuf;
    size_t n = r, used;
    if (c->in.len) { put(&c->in, rbuf, r); p = (uint8_t *)c->in.data; n = c->in.len; }
    used = c->ws ? 0 : http_input(c, p, n);
    if (c->ws && !c->closing) used += ws_input(c, p + used, n - used);
    if (p != rbuf) { memmove(c->in.data, c->in.data + used, n - used); c->in.len = n - used; if (!c->in.len) drop(&c->in); }
    else if (used < n) put(&c->in, p + used, n - used);
    if ((size_t)r < sizeof rbuf) return;
  }
}

static void on_accept(void) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) { /* paused until a connection closes */
        fprintf(stderr, "limit server: out of file descriptors at %llu connections: accepting paused until one closes (raise the open-files limit: ulimit -n)\n", (unsigned long long)nconns);
        struct epoll_event ev = { .events = 0 };
        epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
        accepting = 0;
      } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) fprintf(stderr, "limit server: accept: %s\n", strerror(errno));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = calloc(1, sizeof *c);
    c->fd = fd;
    nconns++;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else { fprintf(stderr, "limit server: unknown option %s (usage: limit --port N)\n", argv[i]); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl; /* as Node and Go do: the soft open-files limit up to the hard one */
  if (!getrlimit(RLIMIT_NOFILE, &rl)) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  unsigned long long seed = (unsigned long long)time(NULL) * 2654435761u ^ (unsigned long long)getpid();
  for (int k = 0; k < 8; k++, seed /= 36) prefix[k] = "0123456789abcdefghijklmnopqrstuvwxyz"[seed % 36];
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof addr;
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096) || getsockname(lfd, (struct sockaddr *)&addr, &al)) {
    fprintf(stderr, "limit server: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  ep = epoll_create1(0);
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  printf("READY %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  static struct epoll_event evs[EVENTS];
  for (;;) {
    int n = epoll_wait(ep, evs, EVENTS, -1);
    if (n < 0 && errno != EINTR) { fprintf(stderr, "limit server: epoll_wait: %s\n", strerror(errno)); return 1; }
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) { on_accept(); continue; }
      if (c->dead) continue;
      if ((evs[i].events & EPOLLOUT) && c->blocked) flush_out(c);
      if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
    }
    deliver();
  }
}
