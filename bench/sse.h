/*
 * A streaming reader of a Server-Sent Events response body for the C load generator: it undoes
 * HTTP/1.1 chunked transfer encoding (when the response uses it) and splits the text into events,
 * keeping only the first bytes of each event's data. Bytes may arrive split anywhere, even inside a
 * chunk-size line or a field name.
 *
 * An event is livehub's own (the stream token, replies such as "subscribed", a close) when it is
 * named `livehub`, or when it has no name and its data is a reply (`{"type":…`); every other event
 * with data is a hub message. Comments (heartbeats), `id:` and `retry:` are skipped.
 */
#ifndef LIVEHUB_BENCH_SSE_H
#define LIVEHUB_BENCH_SSE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of each event's data kept for the callback (the latency stamp sits in the first 60). */
#define SSE_DATA 128
/* Bytes of each line kept: "data: " and SSE_DATA of data. */
#define SSE_LINE (SSE_DATA + 8)

typedef struct sse {
  unsigned chunked : 1, ended : 1, has_event : 1, livehub_event : 1, has_data : 1;
  int chunk_state;     /* where in the chunked framing the next byte falls */
  uint64_t chunk_left; /* data bytes left in the current chunk */
  char line[SSE_LINE]; /* the first bytes of the current line */
  int line_len;
  char data[SSE_DATA + 1]; /* the first bytes of the current event's data, NUL-terminated */
  int data_len;
} sse_t;

/* Called once per event with data: `livehub` says whether it is livehub's own (see above). */
typedef void (*sse_event_fn)(void *ctx, int livehub, const char *data, int len);

/* Starts a body; `chunked` when the response said `Transfer-Encoding: chunked`. */
void sse_init(sse_t *s, int chunked);

/* Feeds body bytes. Returns 0, or -1 when the chunked framing is malformed. */
int sse_feed(sse_t *s, const uint8_t *p, size_t n, sse_event_fn on_event, void *ctx);

#endif
