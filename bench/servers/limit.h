/*
 * What the two parts of the limit server share (limit.c: the loop, the connections, the channels and
 * the writes; limit-wire.c: HTTP, the WebSocket upgrade, client frames and the commands).
 */
#ifndef LIVEHUB_BENCH_LIMIT_H
#define LIVEHUB_BENCH_LIMIT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (1 << 20)
#define MAX_HEAD 8192

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

#define GROW(arr, n, cap) do { if ((n) == (cap)) { (cap) = (cap) ? (cap) * 2 : 8; (arr) = realloc((arr), (cap) * sizeof *(arr)); if (!(arr)) abort(); } } while (0)

static inline void put(buf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) { b->cap = (b->len + n) * 2; if (!(b->data = realloc(b->data, b->cap))) abort(); }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* A server frame's header (unmasked, final) into h: returns its length. */
static inline size_t frame_head(uint8_t *h, int opcode, size_t n) {
  h[0] = 0x80 | opcode;
  if (n < 126) { h[1] = n; return 2; }
  if (n < 65536) { h[1] = 126; h[2] = n >> 8; h[3] = n; return 4; }
  h[1] = 127;
  for (int k = 0; k < 8; k++) h[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
  return 10;
}

/* limit.c */
extern char prefix[16]; /* this run's name: in client ids and epochs */
extern unsigned next_id;
extern uint64_t frames, writes, publishes, deliveries, bytes_out, nconns, nchannels;
channel_t *channel(const char *name, size_t len); /* found, or made */
int join(conn_t *c, channel_t *ch);               /* 0: already subscribed */
void unsubscribe_at(conn_t *c, int slot);
void published(channel_t *ch);                    /* ch's batch got a frame: it goes out at the end of the turn */
void touch(conn_t *c);                            /* it has output this turn */
void frame_to(buf_t *b, int opcode, const char *p, size_t n);
void reply(conn_t *c, const char *p, size_t n);
void close_with(conn_t *c, int code, const char *why);

/* limit-wire.c: each returns the bytes of [p, p+n) it used */
size_t http_input(conn_t *c, uint8_t *p, size_t n);
size_t ws_input(conn_t *c, uint8_t *p, size_t n);

#endif
