/* The SSE body reader of the C load generator: see sse.h. */
#include "sse.h"

#include <string.h>

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_DONE };

void sse_init(sse_t *s, int chunked) {
  memset(s, 0, sizeof *s);
  s->chunked = chunked ? 1 : 0;
}

static void reset_event(sse_t *s) {
  s->has_event = s->livehub_event = s->has_data = 0;
  s->data_len = 0;
  s->data[0] = 0;
}

/* One whole line (without its line break; a trailing CR is dropped here). */
static void on_line(sse_t *s, sse_event_fn on_event, void *ctx) {
  int n = s->line_len;
  const char *l = s->line;
  s->line_len = 0;
  if (n > 0 && l[n - 1] == '\r') n--;
  if (n == 0) { /* a blank line ends the event */
    if (s->has_data) {
      int livehub = s->has_event ? s->livehub_event : !strncmp(s->data, "{\"type\":", 8);
      on_event(ctx, livehub, s->data, s->data_len);
    }
    reset_event(s);
    return;
  }
  if (l[0] == ':') return; /* a comment: the heartbeat */
  const char *colon = memchr(l, ':', n);
  int name = colon ? (int)(colon - l) : n;
  const char *value = colon ? colon + 1 : l + n;
  if (value < l + n && *value == ' ') value++;
  int vlen = (int)(l + n - value);
  if (name == 5 && !memcmp(l, "event", 5)) {
    s->has_event = 1;
    s->livehub_event = vlen == 7 && !memcmp(value, "livehub", 7);
  } else if (name == 4 && !memcmp(l, "data", 4)) {
    /* Several data lines join with a newline; only the first SSE_DATA bytes are kept. */
    if (s->has_data && s->data_len < SSE_DATA) s->data[s->data_len++] = '\n';
    int keep = vlen < SSE_DATA - s->data_len ? vlen : SSE_DATA - s->data_len;
    memcpy(s->data + s->data_len, value, keep);
    s->data_len += keep;
    s->data[s->data_len] = 0;
    s->has_data = 1;
  } /* id, retry and unknown fields: nothing the load generator needs */
}

/* Event-stream text, split into lines; each line's first SSE_LINE bytes are kept. */
static void feed_text(sse_t *s, const uint8_t *p, size_t n, sse_event_fn on_event, void *ctx) {
  while (n > 0) {
    const uint8_t *nl = memchr(p, '\n', n);
    size_t len = nl ? (size_t)(nl - p) : n;
    size_t room = SSE_LINE - s->line_len, keep = len < room ? len : room;
    memcpy(s->line + s->line_len, p, keep);
    s->line_len += (int)keep;
    if (!nl) return;
    on_line(s, on_event, ctx);
    p = nl + 1;
    n -= len + 1;
  }
}

static int hex(uint8_t b) {
  if (b >= '0' && b <= '9') return b - '0';
  if (b >= 'a' && b <= 'f') return b - 'a' + 10;
  if (b >= 'A' && b <= 'F') return b - 'A' + 10;
  return -1;
}

int sse_feed(sse_t *s, const uint8_t *p, size_t n, sse_event_fn on_event, void *ctx) {
  if (!s->chunked) {
    feed_text(s, p, n, on_event, ctx);
    return 0;
  }
  size_t i = 0;
  while (i < n) {
    switch (s->chunk_state) {
    case CH_SIZE: { /* hex digits, then an optional extension, then CRLF */
      uint8_t b = p[i++];
      int d = hex(b);
      if (d >= 0) {
        if (s->chunk_left >> 56) return -1;
        s->chunk_left = s->chunk_left << 4 | (uint64_t)d;
      } else if (b == ';') s->chunk_state = CH_EXT;
      else if (b == '\n') s->chunk_state = s->chunk_left ? CH_DATA : CH_DONE;
      else if (b != '\r') return -1;
      if (s->chunk_state == CH_DONE) s->ended = 1;
      break;
    }
    case CH_EXT:
      if (p[i++] == '\n') s->chunk_state = s->chunk_left ? CH_DATA : CH_DONE;
      if (s->chunk_state == CH_DONE) s->ended = 1;
      break;
    case CH_DATA: {
      size_t take = s->chunk_left < n - i ? (size_t)s->chunk_left : n - i;
      feed_text(s, p + i, take, on_event, ctx);
      i += take;
      s->chunk_left -= take;
      if (s->chunk_left == 0) s->chunk_state = CH_DATA_END;
      break;
    }
    case CH_DATA_END: { /* the CRLF after a chunk's data */
      uint8_t b = p[i++];
      if (b == '\n') s->chunk_state = CH_SIZE;
      else if (b != '\r') return -1;
      break;
    }
    default: /* after the last chunk: trailers, ignored */
      i = n;
    }
  }
  return 0;
}
