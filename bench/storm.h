/*
 * The reconnect-storm generator (W8): what storm.c (connections, timers, stdio, results) and
 * storm-proto.c (livehub's and Socket.IO's messages, the publisher) share. Frames in and out and the
 * upgrade request come from wire.c (scan, send_str, write_upgrade), whose types are in loadgen.h.
 */
#ifndef LIVEHUB_BENCH_STORM_H
#define LIVEHUB_BENCH_STORM_H

#include <stdint.h>

#include "loadgen.h"

/* Where a storm connection stands (conn_t.state keeps wire.c's view: S_UPGRADING, S_SETUP, S_READY, S_CLOSED). */
enum { PH_WAIT, PH_CONNECTING, PH_UPGRADING, PH_OPENING, PH_SUBSCRIBING, PH_READY };
/* Reconnect delays: livehub's client (full jitter) or socket.io-client's (±50% around a doubling delay). */
enum { J_LIVEHUB, J_SOCKETIO };

typedef struct {
  int channel;            /* index into the channel table */
  long long last_s;       /* the publisher's sequence number of the last message seen on it */
  long long last_offset;  /* livehub: the stream offset of that message */
  char epoch[32];         /* livehub: its stream's epoch */
} sub_t;

typedef struct {
  int phase, attempts, node, down, back, ever_ready, sub_failures;
  int pending;            /* bit k: subscription k not answered yet */
  int64_t timer;          /* the next deadline (reconnect, connect or subscribe timeout), 0 for none */
  int64_t down_at;
  int64_t restart_until;  /* livehub: until then (µs) failures follow a 1012 close and do not grow the backoff */
  char pid[48], offset[48]; /* Socket.IO: the session id and the last packet offset seen */
  int recovered, not_recovered; /* this storm: channels resumed with recovered true / false */
  sub_t sub[2];
} ext_t;

struct storm_config {
  int nports, ports[8];
  int home, publisher_node, failover, jitter, group, rate;
  int64_t connect_timeout, subscribe_timeout;
};
extern struct storm_config scfg;

extern conn_t *conns;
extern ext_t *ext;
extern conn_t pub;     /* the publisher's connection (index -1) */
extern int nconns, marked;
extern int64_t mark_at;

/* storm-count.c: the channel table (what the publisher sent and had acked), each subscriber's gaps */
void channels_init(int count);
void account(conn_t *c, int slot, long long s, long long offset); /* a message with sequence number s arrived */
void count_lost(long long lost[3]);
int channel_name(int channel, char *out, int size);
long long channel_sent(int channel);  /* the next sequence number of a channel */
void channel_acked(int channel, long long s, int after_mark);   /* missing deliveries: [0] never acked, [1] acked before, [2] after the restart */
extern long long dup_total, gaps_total;

/* storm.c */
void storm_close(conn_t *c, int failed);   /* closes and schedules the reconnect */
void arm(conn_t *c, int64_t at);           /* sets the connection's one deadline */
void became_ready(conn_t *c);
ext_t *ex(conn_t *c);                        /* a connection's storm state (the publisher's too) */
int send_msg(conn_t *c, const char *s);      /* one text frame; -1 (and closed) if the socket could not take it */
extern int pub_generation; /* 1 once the publisher's connection was opened after MARK */

/* storm-proto.c */
void proto_opened(conn_t *c);              /* the upgrade was answered 101 */
void proto_text(conn_t *c, char *text, int n);
void proto_retry(conn_t *c);               /* a subscribe deadline or retry fired */
int64_t backoff(int attempts);              /* the client's reconnect (and subscribe retry) delay, µs */
void pub_tick(int64_t now);                /* publishes what the schedule says is due */
void pub_start(void);
void pub_opened(void);                      /* the publisher's connection is ready (again) */
void pub_stop(void);
extern long long pub_count, pub_acked, pub_queued, pub_resent, sub_errors, resets;

#endif
