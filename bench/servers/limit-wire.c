/*
 * The limit server's wire (see limit.c): HTTP (the WebSocket upgrade, with SHA-1 and base64 from
 * OpenSSL's libcrypto, and the runner's GET /__bench/stats and /__bench/reset), client frames, and
 * the commands, found by their first bytes and their fields by their keys: nothing is validated.
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <strings.h>

#include "limit.h"

/* ---- commands ---- */

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
  if (idn > 64) return error_reply(c, "bad_request", "ids are limited to 64 bytes");
  channel_t *ch = channel(name, n);
  if (!join(c, ch)) return error_reply(c, "already_subscribed", "already subscribed to that channel");
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
  if (idn > 64) return error_reply(c, "bad_request", "ids are limited to 64 bytes");
  channel_t *ch = channel(name, n);
  char tail[128];
  size_t tl = snprintf(tail, sizeof tail, ",\"offset\":%llu,\"from\":{\"client\":\"%s-%u\"}}", (unsigned long long)++ch->offset, prefix, c->id);
  size_t len = 12 + n + 10 + tn + 9 + dn + tl;
  uint8_t h[10];
  buf_t *b = &ch->batch;
  put(b, h, frame_head(h, 1, len));
  put(b, "{\"channel\":\"", 12); put(b, name, n); put(b, "\",\"type\":\"", 10); put(b, type, tn);
  put(b, "\",\"data\":", 9); put(b, data, dn); put(b, tail, tl);
  published(ch);
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
    if (!name || !len || len > 200) return error_reply(c, "bad_request", "unsubscribe needs a channel (a string of 1 to 200 bytes)");
    for (int k = 0; k < c->nsubs; k++) if (c->subs[k].ch->len == len && !memcmp(c->subs[k].ch->name, name, len)) { unsubscribe_at(c, k); break; }
    char r[512];
    reply(c, r, snprintf(r, sizeof r, "{\"type\":\"unsubscribed\",\"channel\":\"%.*s\"}", (int)len, name));
  } else if (IS("{\"type\":\"ping\"")) reply(c, "{\"type\":\"pong\"}", 15);
  else if (IS("{\"type\":\"")) error_reply(c, "unknown_type", "it knows subscribe, unsubscribe, publish and ping");
  else error_reply(c, "bad_request", "it reads commands whose first key is type");
#undef IS
}

/* Whole frames in [p, p+n): returns the bytes used. */
size_t ws_input(conn_t *c, uint8_t *p, size_t n) {
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

size_t http_input(conn_t *c, uint8_t *p, size_t n) {
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

