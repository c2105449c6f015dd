/*
 * The C load generator's connections (see loadgen.h): connecting, the WebSocket upgrade (or, for an
 * SSE subscriber, the stream's GET) and its answer, client frames out, and a frame scanner in that
 * keeps only the first bytes of each message; source addresses over 127.0.0.0/8 and the open-files
 * limit for many connections; and the config the runner passes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"

/* ---- the config: a flat JSON object written by bench/run.ts ---- */

static const char *field(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *at = strstr(json, pat);
  return at ? at + strlen(pat) : NULL;
}
static double num(const char *json, const char *key, double fallback) {
  const char *at = field(json, key);
  return at ? strtod(at, NULL) : fallback;
}
void read_config(const char *json) {
  const char *p = field(json, "protocol");
  if (!p) { errno = 0; die("config without protocol"); }
  cfg.protocol = !strncmp(p, "\"socketio\"", 10) ? P_SOCKETIO : !strncmp(p, "\"gohub\"", 7) ? P_GOHUB
               : !strncmp(p, "\"sse\"", 5) ? P_SSE : !strncmp(p, "\"centrifuge\"", 12) ? P_CENTRIFUGE : P_LIVEHUB;
  p = field(json, "workload");
  if (p) memcpy(cfg.workload, p + 1, 2);
  cfg.port = (int)num(json, "port", 0);
  cfg.connections = (int)num(json, "connections", 1000);
  cfg.size = (int)num(json, "size", 100);
  cfg.rate = (int)num(json, "rate", 1000);
  cfg.burst = (int)num(json, "burst", 0);
  cfg.duration = (int)num(json, "duration", 5);
  cfg.slow_fraction = num(json, "slowFraction", 0);
  p = field(json, "filterHalf");
  cfg.filter_half = p && !strncmp(p, "true", 4);
  p = field(json, "browserHeaders");
  cfg.browser_headers = p && !strncmp(p, "true", 4);
  cfg.first = (int)num(json, "first", 0);
  p = field(json, "ports");
  if (p && *p == '[') {
    char *end;
    for (p++; *p && *p != ']' && cfg.nports < 64; p = end) {
      cfg.ports[cfg.nports++] = (int)strtol(p, &end, 10);
      while (*end == ',' || *end == ' ') end++;
    }
  }
}

/* ---- connections ---- */

static const char *path(void) {
  return cfg.protocol == P_SOCKETIO ? "/socket.io/?EIO=4&transport=websocket" : cfg.protocol == P_GOHUB ? "/ws"
       : cfg.protocol == P_CENTRIFUGE ? "/connection/websocket" : "/";
}

/* ---- frames ---- */

/* A masked client text frame with a zero masking key (valid, and the payload goes as is). */
size_t client_frame(uint8_t *out, int opcode, const char *payload, size_t n) {
  size_t h;
  out[0] = 0x80 | opcode;
  if (n < 126) { out[1] = 0x80 | n; h = 2; }
  else if (n < 65536) { out[1] = 0x80 | 126; out[2] = n >> 8; out[3] = n & 0xff; h = 4; }
  else { out[1] = 0x80 | 127; for (int k = 0; k < 8; k++) out[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k)); h = 10; }
  memset(out + h, 0, 4);
  memcpy(out + h + 4, payload, n);
  return h + 4 + n;
}

static void send_text(conn_t *c, int opcode, const char *payload, size_t n) {
  uint8_t frame[512];
  if (n > sizeof frame - 14) return;
  size_t len = client_frame(frame, opcode, payload, n);
  if (write(c->fd, frame, len) < 0 && errno != EAGAIN) c->state = S_CLOSED;
}
void send_str(conn_t *c, const char *s) { send_text(c, 1, s, strlen(s)); }

static void end_frame(conn_t *c) {
  c->in_frame = 0;
  if (c->opcode < 8) { if (c->fin) on_text(c); } /* a whole message, perhaps in fragments */
  else if (c->opcode == 0x9) send_text(c, 0xa, c->ctl, c->ctl_have);
  else if (c->opcode == 0x8) { if (!c->publisher) close_conn(c); else c->state = S_CLOSED; }
}

/* Walks frame headers; keeps the first bytes of each message (all of a control frame's payload). */
void scan(conn_t *c, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && c->state != S_CLOSED) {
    if (!c->in_frame) {
      c->hdr[c->hdr_have++] = p[i++];
      if (c->hdr_have < 2) continue;
      int b1 = c->hdr[1] & 0x7f;
      int need = b1 < 126 ? 2 : b1 == 126 ? 4 : 10;
      if (c->hdr_have < need) continue;
      c->opcode = c->hdr[0] & 0x0f;
      c->fin = c->hdr[0] >> 7;
      if (b1 < 126) c->length = b1;
      else if (b1 == 126) c->length = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
      else { c->length = 0; for (int k = 0; k < 8; k++) c->length = c->length << 8 | c->hdr[2 + k]; }
      c->hdr_have = 0;
      c->in_frame = 1;
      c->remaining = c->length;
      if (c->opcode >= 8) c->ctl_have = 0;
      else if (c->opcode != 0) { /* a message starts; 0 continues one */
        int keep = c->sampled || c->publisher || c->state != S_READY ? PREFIX_SAMPLED : 2; /* setup replies are read */
        c->want = c->length < (uint64_t)keep ? (int)c->length : keep;
        c->have = 0;
        c->lines = 0;
      }
      if (c->remaining == 0) end_frame(c);
      continue;
    }
    size_t take = c->remaining < n - i ? c->remaining : n - i;
    if (c->opcode >= 8) {
      size_t keep = take < sizeof c->ctl - c->ctl_have ? take : sizeof c->ctl - c->ctl_have;
      memcpy(c->ctl + c->ctl_have, p + i, keep);
      c->ctl_have += keep;
    } else if (c->have < c->want) {
      size_t keep = take < (size_t)(c->want - c->have) ? take : (size_t)(c->want - c->have);
      memcpy(c->prefix + c->have, p + i, keep);
      c->have += keep;
    }
    if (line_protocol() && c->opcode < 8) {
      const uint8_t *q = p + i, *end = p + i + take;
      while ((q = memchr(q, '\n', end - q))) { c->lines++; q++; }
    }
    i += take;
    c->remaining -= take;
    if (c->remaining == 0) end_frame(c);
  }
}

/* Reads the HTTP answer to the upgrade (to the GET, for an SSE stream: a 200, chunked or not);
 * returns bytes of it consumed, -1 while incomplete, or -2 for a refusal (any other status) or an
 * answer too long to hold. Ends nothing: the storm generator retries a refused connection. */
int upgrade_head(conn_t *c, const uint8_t *p, size_t n) {
  size_t room = sizeof c->head - 1 - c->head_len, take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  int before = c->head_len;
  c->head_len += take;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) return c->head_len == sizeof c->head - 1 ? -2 : -1;
  int sse = sse_subscriber(c);
  if (strncmp(c->head, sse ? "HTTP/1.1 200" : "HTTP/1.1 101", 12)) return -2;
  if (sse) sse_init(&c->sse, strcasestr(c->head, "\r\ntransfer-encoding: chunked") != NULL);
  return (int)(end + 4 - c->head) - before;
}

/* upgrade_head for the load generator, which stops at a refusal: every connection must open. */
int upgrade_reply(conn_t *c, const uint8_t *p, size_t n) {
  int used = upgrade_head(c, p, n);
  if (used != -2) return used;
  if (!strstr(c->head, "\r\n\r\n")) { errno = 0; die("upgrade answer too long"); }
  *strchr(c->head, '\r') = 0;
  fprintf(stderr, "loadgen: %s refused: %s\n", sse_subscriber(c) ? "event stream" : "upgrade", c->head);
  exit(1);
}

/* Connects to 127.0.0.1:port from `source` (host order; 0: the kernel's choice, 127.0.0.1). */
static int connect_source(int port, int blocking, uint32_t source) {
  int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) die(errno == EMFILE ? "socket (out of file descriptors: see the open-files limit above)" : "socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source) {
    /* The port is then picked at connect(), unique per 4-tuple rather than per address. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(source) };
    if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0) die("bind to a 127.0.0.0/8 source address");
  }
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
    die(errno == EADDRNOTAVAIL ? "connect (no ephemeral port left on the source address: see net.ipv4.ip_local_port_range)" : "connect");
  return fd;
}

int connect_to(int port, int blocking) { return connect_source(port, blocking, 0); }

int connect_from(int port, int blocking, uint32_t source) { return connect_source(port, blocking, source); }

/*
 * Subscriber i's source address: 127.1.0.1 + i / CONNS_PER_SOURCE (all of 127.0.0.0/8 is loopback on
 * Linux), so no address comes near the ~28k ephemeral ports of ip_local_port_range and a run's
 * 4-tuples do not meet an earlier run's in TIME_WAIT. 100k connections use 127.1.0.1 to 127.1.0.100.
 */
#define CONNS_PER_SOURCE 1000
uint32_t source_address(int i) { return 0x7f010001u + (uint32_t)(i / CONNS_PER_SOURCE); }

/*
 * Raises RLIMIT_NOFILE to at least `needed`: the soft limit up to the hard one, and the hard one too
 * when it is lower and the process may (root with CAP_SYS_RESOURCE, up to fs.nr_open). Returns 0, or
 * -1 after saying on stderr what limits it and what to run.
 */
int raise_file_limit(long needed) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)needed) {
    struct rlimit want = { (rlim_t)needed, (rlim_t)needed };
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) return 0;
    long nr_open = 0;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f) { if (fscanf(f, "%ld", &nr_open) != 1) nr_open = 0; fclose(f); }
    fprintf(stderr, "loadgen: %ld open files needed, but the hard limit is %llu and cannot be raised here (%s)%s; "
                    "run the bench from a shell whose limit is high enough: as root, `prlimit --pid $$ --nofile=%ld:%ld` "
                    "(or `docker run --ulimit nofile=%ld:%ld`)\n",
            needed, (unsigned long long)rl.rlim_max, strerror(errno),
            nr_open && nr_open < needed ? ", and fs.nr_open is lower still (sysctl -w fs.nr_open=...)" : "", needed, needed, needed, needed);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    return -1;
  }
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  return 0;
}

/* An SSE subscriber's request: GET /events?channel=…&channel=… */
static void write_stream_request(conn_t *c) {
  char names[2][32], query[128] = "", req[512];
  int count, q = 0;
  channel_names(c->index, names, &count);
  for (int k = 0; k < count; k++) q += snprintf(query + q, sizeof query - q, "%schannel=%s", k ? "&" : "?", names[k]);
  int n = snprintf(req, sizeof req, "GET /events%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n", query, c->port);
  if (write(c->fd, req, n) != n) die("write stream request");
  c->state = S_UPGRADING;
}

/* What a browser adds to a WebSocket upgrade from a signed-in app page (Chromium's headers, a
 * Laravel app's session and XSRF cookies, analytics): 779 bytes, 709 of them outside the handshake's own. */
#define BROWSER_HEADERS \
  "Pragma: no-cache\r\nCache-Control: no-cache\r\n" \
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n" \
  "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7\r\n" \
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" \
  "Cookie: XSRF-TOKEN=eyJpdiI6IkR4b2FqQ0tWZ3JQb2l6d1FjZ0x0d2c9PSIsInZhbHVlIjoiS2x0aDNOV3BkR0xXRm5aZ2ZqN0Rj" \
  "UEtTbm1hV2V3dGJnZ1FkNnBMT2RzbHJmU0ZYQmF1Ym5ZQ0ZpdE1kQ2J2In0%3D; app_session=eyJpdiI6IjZ1Q0VoSWtaV0JkbTRx" \
  "T2xmbGpTVkE9PSIsInZhbHVlIjoiR3JqbWhZc1dXcE5sb0xyQ2x1cUhGRk1GZ3FmZ1Y0T2J0a3pGZFhNc0xqWHZwZm0zaWJ2In0%3D; " \
  "_ga=GA1.1.1873412291.1795900000; _ga_ABCDEF1234=GS1.1.1795900000.3.1.1795900500.0.0.0; " \
  "consent=necessary%2Canalytics; theme=dark; locale=en-GB\r\n"

void write_upgrade(conn_t *c) {
  if (sse_subscriber(c)) { write_stream_request(c); return; }
  /* livehub answers "subscribed" only on connections that negotiated its full protocol. */
  int full = cfg.protocol == P_LIVEHUB || cfg.protocol == P_SSE;
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s%s\r\n",
                   path(), c->port, full ? "Sec-WebSocket-Protocol: livehub.v1\r\n" : "", cfg.browser_headers ? BROWSER_HEADERS : "");
  if (write(c->fd, req, n) != n) die("write upgrade");
  c->state = S_UPGRADING;
}
