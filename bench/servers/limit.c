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
 * Built by bench/limit-server.ts: cc -O2 -o limit bench/servers/limit.c -lcrypto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)
#define MAX_HEAD 8192
#define MAX_IOV 64
#define EVENTS 4096

typedef struct { char *data; size_t len, cap; } buf_t;
typedef struct conn conn_t;
typedef struct channel channel_t;
struct member { conn_t *c; int slot; };  /* a subscriber, and where the channel is in its subs */
struct sub { channel_t *ch; int pos; };   /* a subscription, and where the subscriber is in members */
struct channel {
  char *name; size_t len; uint64_t hash, offset; unsigned serial;
  struct member *members; int n, cap;
  buf_t batch; uint64_t batch_frames; int dirty; /* this turn's publications, framed */
};
struct conn {
  int fd, ws, closing, dead, touched, blocked, full; unsigned id;
  buf_t in, out;                     /* unparsed input; output not yet taken by the socket */
  struct sub *subs; int nsubs, capsubs;
  channel_t **turn; int nturn, capturn; /* channels with publications for it this turn */
};

static int ep, lfd, accepting = 1;
static uint8_t rbuf[256 * 1024];
static char prefix[16];
static unsigned next_id;
static uint64_t frames, writes, publishes, deliveries, bytes_out, nconns, nchannels;
static channel_t **table; static size_t table_cap;
static channel_t **dirty; static size_t ndirty, capdirty;
static conn_t **touched, **dead; static size_t ntouched, captouched, ndead, capdead;

#define GROW(arr, n, cap) do { if ((n) == (cap)) { (cap) = (cap) ? (cap) * 2 : 8; (arr) = realloc((arr), (cap) * sizeof *(arr)); if (!(arr)) abort(); } } while (0)

static void put(buf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) { b->cap = (b->len + n) * 2; if (!(b->data = realloc(b->data, b->cap))) abort(); }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}
static void drop(buf_t *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }

/* ---- channels: an open-addressing table by name ---- */

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  while (n--) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
  return h;
}
static channel_t *channel(const char *name, size_t len) {
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

static void unsubscribe_at(conn_t *c, int slot) {
  struct sub s = c->subs[slot];
  struct member moved = s.ch->members[--s.ch->n];
  if (s.pos != s.ch->n) { s.ch->members[s.pos] = moved; moved.c->subs[moved.slot].pos = s.pos; }
  struct sub last = c->subs[--c->nsubs];
  if (slot != c->nsubs) { c->subs[slot] = last; last.ch->members[last.pos].slot = slot; }
}

/* ---- output ---- */

static void touch(conn_t *c) { if (!c->touched) { c->touched = 1; GROW(touched, ntouched, captouched); touched[ntouched++] = c; } }

static size_t frame_head(uint8_t *h, int opcode, size_t n) {
  h[0] = 0x80 | opcode;
  if (n < 126) { h[1] = n; return 2; }
  if (n < 65536) { h[1] = 126; h[2] = n >> 8; h[3] = n; return 4; }
  h[1] = 127;
  for (int k = 0; k < 8; k++) h[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
  return 10;
}
static void frame_to(buf_t *b, int opcode, const char *p, size_t n) {
  uint8_t h[10];
  put(b, h, frame_head(h, opcode, n));
  put(b, p, n);
}
/* A frame of the connection's own (a reply), written with the turn's deliveries. */
static void reply(conn_t *c, const char *p, size_t n) { frame_to(&c->out, 1, p, n); frames++; touch(c); }

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
static void close_with(conn_t *c, int code, const char *why) {
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

/* ---- commands: found by their first bytes, fields by their keys ---- */

/* The end of the JSON value at p (a string, object, array or scalar), or NULL. */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  for (int in_str = 0; p < end; p++) {
    if (in_str) { if (*p == '\\') p++; else if (*p == '"') { in_str = 0; if (!depth) return p + 1; } }
    else if (*p == '"') in_str = 1;
    else if (*p == '{' || *p == '[') depth++;
    else if (*p == '}' || *p == ']') { if (--depth <= 0) return depth < 0 ? p : p + 1; }
    else if (!depth && (*p == ',' || *p == ' ')) return p;
  }
  return NULL;
}
/* The value of `"key":` in [p, end): a string's contents (`raw`: its JSON text), or any other value's JSON text. */
static const char *field(const char *p, const char *end, const char *key, size_t *len, int raw) {
  size_t k = strlen(key);
  const char *at = p < end ? memmem(p, end - p, key, k) : NULL;
  if (!at || at + k >= end) return NULL;
  at += k;
  if (*at == '"' && !raw) { const char *q = memchr(at + 1, '"', end - at - 1); if (!q) return NULL; *len = q - at - 1; return at + 1; }
  const char *q = skip_value(at, end);
  if (!q) return NULL;
  *len = q - at;
  return at;
}

static void error_reply(conn_t *c, const char *code, const char *message) {
  char r[256];
  reply(c, r, snprintf(r, sizeof r, "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"limit server: %s\"}", code, message));
}

static void subscribe(conn_t *c, const char *s, const char *end) {
  size_t n, idn = 0;
  const char *name = field(s, end, "\"channel\":", &n, 0), *id = field(s, end, "\"id\":", &idn, 1);
  if (!name || !n || n > 200) return error_reply(c, "bad_request", "subscribe needs a channel (a string of 1 to 200 bytes)");
  channel_t *ch = channel(name, n);
  for (int k = 0; k < c->nsubs; k++) if (c->subs[k].ch == ch) return error_reply(c, "already_subscribed", "already subscribed to that channel");
  GROW(ch->members, ch->n, ch->cap);
  GROW(c->subs, c->nsubs, c->capsubs);
  ch->members[ch->n] = (struct member){ c, c->nsubs };
  c->subs[c->nsubs++] = (struct sub){ ch, ch->n++ };
  char r[512];
  reply(c, r, snprintf(r, sizeof r, "{\"type\":\"subscribed\",\"channel\":\"%.*s\",\"offset\":%llu,\"epoch\":\"%s.%u\"%s%.*s}",
                       (int)n, name, (unsigned long long)ch->offset, prefix, ch->serial, id ? ",\"id\":" : "", (int)idn, id ? id : ""));
}

static void publish(conn_t *c, const char *s, const char *end) {
  size_t n, tn, dn, idn = 0;
  const char *name = field(s, end, "\"channel\":", &n, 0), *type = field(s, end, "\"event\":", &tn, 0), *data = field(s, end, "\"data\":", &dn, 1);
  if (!name || !n || n > 200 || !type || !data) return error_reply(c, "bad_request", "publish needs a channel, an event and data");
  const char *id = field(s, data - 7, "\"id\":", &idn, 1); /* not inside data */
  if (!id) id = field(data + dn, end, "\"id\":", &idn, 1);
  channel_t *ch = channel(name, n);
  char tail[128];
  size_t tl = snprintf(tail, sizeof tail, ",\"offset\":%llu,\"from\":{\"client\":\"%s-%u\"}}", (unsigned long long)++ch->offset, prefix, c->id);
  size_t len = 12 + n + 10 + tn + 9 + dn + tl;
  uint8_t h[10];
  buf_t *b = &ch->batch;
  put(b, h, frame_head(h, 1, len));
  put(b, "{\"channel\":\"", 12); put(b, name, n); put(b, "\",\"type\":\"", 10); put(b, type, tn);
  put(b, "\",\"data\":", 9); put(b, data, dn); put(b, tail, tl);
  ch->batch_frames++;
  publishes++;
  if (!ch->dirty) { ch->dirty = 1; GROW(dirty, ndirty, capdirty); dirty[ndirty++] = ch; }
  if (id) {
    char r[256];
    reply(c, r, snprintf(r, sizeof r, "{\"type\":\"ack\",\"id\":%.*s,\"offset\":%llu,\"epoch\":\"%s.%u\"}", (int)idn, id, (unsigned long long)ch->offset, prefix, ch->serial));
  }
}

static void on_message(conn_t *c, const char *s, size_t n) {
  const char *end = s + n;
#define IS(t) (n >= sizeof(t) - 1 && !memcmp(s, t, sizeof(t) - 1))
  if (IS("{\"type\":\"publish\"")) publish(c, s, end);
  else if (IS("{\"type\":\"subscribe\"")) subscribe(c, s, end);
  else if (IS("{\"type\":\"unsubscribe\"")) {
    size_t len;
    const char *name = field(s, end, "\"channel\":", &len, 0);
    for (int k = 0; name && k < c->nsubs; k++) if (c->subs[k].ch->len == len && !memcmp(c->subs[k].ch->name, name, len)) { unsubscribe_at(c, k); break; }
    char r[512];
    if (name) reply(c, r, snprintf(r, sizeof r, "{\"type\":\"unsubscribed\",\"channel\":\"%.*s\"}", (int)len, name));
  } else if (IS("{\"type\":\"ping\"")) reply(c, "{\"type\":\"pong\"}", 15);
  else if (IS("{\"type\":\"")) error_reply(c, "unknown_type", "it knows subscribe, unsubscribe, publish and ping");
  else error_reply(c, "bad_request", "it reads commands whose first key is type");
#undef IS
}

/* Whole frames in [p, p+n): returns the bytes used. */
static size_t ws_input(conn_t *c, uint8_t *p, size_t n) {
  size_t off = 0;
  while (!c->closing && n - off >= 2) {
    uint8_t *f = p + off;
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    if (len == 126) { if (n - off < 4) break; len = (uint64_t)f[2] << 8 | f[3]; h = 4; }
    else if (len == 127) { if (n - off < 10) break; len = 0; for (int k = 0; k < 8; k++) len = len << 8 | f[2 + k]; h = 10; }
    if (!(f[1] & 0x80)) { close_with(c, 1002, "client frames must be masked"); break; }
    if (len > MAX_MESSAGE) { close_with(c, 1009, "messages are limited to 1 MiB"); break; }
    if (n - off < h + 4 + len) break;
    uint8_t *key = f + h, *data = key + 4;
    for (uint64_t i = 0; i < len; i++) data[i] ^= key[i & 3];
    off += h + 4 + len;
    int opcode = f[0] & 0x0f;
    if (opcode == 1 && (f[0] & 0x80)) on_message(c, (char *)data, len);
    else if (opcode == 9 && len <= 125) { frame_to(&c->out, 10, (char *)data, len); frames++; touch(c); }
    else if (opcode == 10) continue;
    else if (opcode == 8) close_with(c, 1000, "");
    else close_with(c, 1003, opcode == 2 ? "binary messages are not supported" : "fragmented messages are not supported");
  }
  return off;
}

/* ---- HTTP: the upgrade, and the runner's stats ---- */

static const char *header(const char *head, const char *name, size_t *len) {
  size_t k = strlen(name);
  for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, name, k) || line[2 + k] != ':') continue;
    const char *v = line + 3 + k;
    while (*v == ' ') v++;
    *len = strcspn(v, "\r");
    return v;
  }
  return NULL;
}

static void http_answer(conn_t *c, const char *status, const char *type, const char *body) {
  char r[1024];
  int n = snprintf(r, sizeof r, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status, type, strlen(body), body);
  put(&c->out, r, n);
  c->closing = 1;
  touch(c);
}

static size_t http_input(conn_t *c, uint8_t *p, size_t n) {
  char *end = memmem(p, n, "\r\n\r\n", 4);
  if (!end) {
    if (n > MAX_HEAD) http_answer(c, "431 Request Header Fields Too Large", "text/plain", "limit server: request head over 8 KiB\n");
    return c->closing ? n : 0;
  }
  end[2] = 0; /* the head as a string, ending after its last header's line */
  char *head = (char *)p;
  size_t used = end + 4 - head, kl, vl, pl, ul;
  if (strncmp(head, "GET ", 4)) { http_answer(c, "405 Method Not Allowed", "text/plain", "limit server: GET only\n"); return used; }
  const char *path = head + 4;
  size_t path_len = strcspn(path, " ");
  const char *key = header(head, "Sec-WebSocket-Key", &kl), *version = header(head, "Sec-WebSocket-Version", &vl);
  const char *upgrade = header(head, "Upgrade", &ul), *protocols = header(head, "Sec-WebSocket-Protocol", &pl);
  if (!upgrade) {
    char body[512];
    if (path_len == 14 && !memcmp(path, "/__bench/reset", 14)) http_answer(c, "200 OK", "text/plain", "ok");
    else if (path_len == 14 && !memcmp(path, "/__bench/stats", 14)) {
      snprintf(body, sizeof body, "{\"frames\":%llu,\"writes\":%llu,\"publishes\":%llu,\"deliveries\":%llu,\"bytes\":%llu,\"connections\":%llu,\"channels\":%llu}",
               (unsigned long long)frames, (unsigned long long)writes, (unsigned long long)publishes, (unsigned long long)deliveries,
               (unsigned long long)bytes_out, (unsigned long long)nconns, (unsigned long long)nchannels);
      http_answer(c, "200 OK", "application/json", body);
    } else http_answer(c, "404 Not Found", "text/plain", "limit server: WebSocket upgrades, /__bench/stats and /__bench/reset only\n");
    return used;
  }
  if (ul != 9 || strncasecmp(upgrade, "websocket", 9) || !key || kl > 64) { http_answer(c, "400 Bad Request", "text/plain", "limit server: a WebSocket upgrade needs Upgrade: websocket and Sec-WebSocket-Key\n"); return used; }
  if (!version || vl != 2 || memcmp(version, "13", 2)) { http_answer(c, "426 Upgrade Required", "text/plain", "limit server: Sec-WebSocket-Version 13 only\n"); return used; }
  char joined[128];
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned dl;
  int jl = snprintf(joined, sizeof joined, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)kl, key);
  EVP_Digest(joined, jl, digest, &dl, EVP_sha1(), NULL);
  char accept[64];
  EVP_EncodeBlock((uint8_t *)accept, digest, (int)dl);
  c->full = protocols && memmem(protocols, pl, "livehub.v1", 10);
  char r[512];
  int rn = snprintf(r, sizeof r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                    accept, c->full ? "Sec-WebSocket-Protocol: livehub.v1\r\n" : "");
  put(&c->out, r, rn);
  touch(c);
  c->ws = 1;
  c->id = ++next_id;
  if (c->full) reply(c, "{\"type\":\"connected\"}", 20); /* no heartbeat period: it sends none */
  return used;
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
