/*
 * What the parts of the C load generator share (loadgen.c: the subscribers, the stdio conversation and
 * the results; wire.c: connecting, the WebSocket upgrade or SSE request, WebSocket frames; publisher.c:
 * the publisher thread; sse.c: SSE streams).
 */
#ifndef LIVEHUB_BENCH_LOADGEN_H
#define LIVEHUB_BENCH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sse.h"

enum { P_LIVEHUB, P_SOCKETIO, P_GOHUB, P_SSE, P_CENTRIFUGE };
enum { S_CONNECTING, S_UPGRADING, S_SETUP, S_READY, S_CLOSED };

#define PREFIX_SAMPLED 120

struct config {
  int protocol, port, nports, ports[64];
  char workload[4];
  int connections, size, rate, burst, duration;
  double slow_fraction;
  int filter_half; /* livehub: odd subscribers subscribe with "filter":{"region":"eu"} */
  int browser_headers; /* upgrades carry the ~1 KB of headers a browser sends (user agent, cookies...) */
  int first;       /* the first subscriber's index (channel u<index>, source address): a second generator goes on from the first's */
  /* Several generators on one run (bench/w7-cluster.ts, see its options in loadgen.c): */
  int listen;                /* publishes to "c" expected from another generator (this one publishes nothing) */
  char latency_file[256];    /* where to write every latency sample, sorted (int64 µs, native order) */
};
extern struct config cfg;

typedef struct conn {
  int fd, state, port, index, setup_left;
  unsigned sampled : 1, slow : 1, publisher : 1;
  char head[2048];
  int head_len;
  uint8_t hdr[14];
  int hdr_have, in_frame, opcode, fin, want, have, ctl_have;
  uint64_t length, remaining;
  char prefix[PREFIX_SAMPLED + 1]; /* the first bytes of the current message */
  char ctl[126];                   /* the payload of the current control frame */
  uint64_t lines; /* gohub, centrifuge: newlines seen in the current message, across its fragments */
  uint64_t received;
  sse_t sse; /* P_SSE subscribers: the event stream */
} conn_t;

static inline int is_w3(void) { return !strcmp(cfg.workload, "W3"); }
/* W7: many idle connections, each in "c" and its own "u<i>", from source addresses over 127.0.0.0/8. */
static inline int is_w7(void) { return !strcmp(cfg.workload, "W7"); }
/* Subscribers on SSE streams (the publisher is on a WebSocket whatever the protocol). */
static inline int sse_subscriber(const conn_t *c) { return cfg.protocol == P_SSE && !c->publisher; }
/* Protocols whose frames hold several messages, one a line (see centrifuge.c for Centrifuge's). */
static inline int line_protocol(void) { return cfg.protocol == P_GOHUB || cfg.protocol == P_CENTRIFUGE; }

/* loadgen.c */
int64_t now_us(void);
void die(const char *what);
void channel_names(int i, char names[2][32], int *count);
void on_text(conn_t *c);      /* a whole text message arrived */
void close_conn(conn_t *c);
int slow_count(void);

/* wire.c */
void read_config(const char *json); /* the flat JSON object bench/run.ts passes to the load generator, into cfg */
size_t client_frame(uint8_t *out, int opcode, const char *payload, size_t n);
void send_str(conn_t *c, const char *s);
void scan(conn_t *c, const uint8_t *p, size_t n);
int upgrade_head(conn_t *c, const uint8_t *p, size_t n);  /* -1 incomplete, -2 refused */
int upgrade_reply(conn_t *c, const uint8_t *p, size_t n); /* the same, exiting on a refusal */
int connect_to(int port, int blocking);
int connect_from(int port, int blocking, uint32_t source); /* source: an IPv4 address, host order */
uint32_t source_address(int i);                            /* subscriber i's, in 127.0.0.0/8 */
int raise_file_limit(long needed);                         /* 0, or -1 having said what to run */
void write_upgrade(conn_t *c);

/* centrifuge.c: Centrifuge's JSON protocol */
void cf_connect(conn_t *c);
void cf_subscribe(conn_t *c, const char names[2][32], int count);
int cf_publish(char *out, long long id, const char *channel, long long at, const char *pad);
int cf_setup_reply(conn_t *c, int lines, int first);

/* publisher.c: the thread, and what it tells the main loop */
void *publisher(void *arg);
void expected_of(long long publishes, long long *out); /* deliveries each subscriber expects */
extern volatile int publisher_done, publisher_stop, publisher_closed;
extern long long pub_sent, pub_expected;
extern long long pub_taken; /* when publisher_closed: publishes written whole before the server closed it */
extern int done_pipe[2];

#endif
