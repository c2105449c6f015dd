/*
 * The storm generator's messages (see storm.c): livehub's protocol (subscribe with `since`, the
 * `subscribed` answer's `recovered`, hub messages with their offset) and Socket.IO's (Engine.IO open,
 * CONNECT with the session id and last offset for connection-state recovery, acked subscribes), each
 * subscriber's accounting of the publisher's sequence numbers, and the publisher.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "storm.h"

long long pub_count, pub_acked, pub_queued, pub_resent, sub_errors, resets;

/*
 * The publisher, a service with an outbox as livehub's client has: publish k goes to a group (k even,
 * round robin) or a user's channel (k odd), with a string id; what is published while its connection
 * is down waits, and what was sent but not acked when it dropped is sent again, with the same id, once
 * it is back (livehub deduplicates by id; Socket.IO cannot, so there a resend may double).
 */
typedef struct { int channel; long long s; int acked, sent; } rec_t;
static rec_t *recs;
static long long nrecs, caprecs, due, first_unacked;
static int64_t pub_began;
static int pub_was_open;
static const char *after(const char *text, const char *key) {
  const char *at = strstr(text, key);
  return at ? at + strlen(key) : NULL;
}
static long long num_after(const char *text, const char *key, long long fallback) {
  const char *at = after(text, key);
  return at ? strtoll(at, NULL, 10) : fallback;
}
/* Copies the JSON string value after `key` (which ends with the opening quote). */
static int str_after(const char *text, const char *key, char *out, int size) {
  const char *at = after(text, key);
  if (!at) return 0;
  int k = 0;
  while (at[k] && at[k] != '"' && k < size - 1) { out[k] = at[k]; k++; }
  out[k] = 0;
  return at[k] == '"';
}
/* Which of the connection's two subscriptions a channel name is: 0 personal, 1 group, -1 neither. */
static int slot_of(conn_t *c, const char *name) {
  char own[32];
  for (int k = 0; k < 2; k++) {
    int len = channel_name(ext[c->index].sub[k].channel, own, sizeof own);
    if (!strncmp(name, own, len) && name[len] == '"') return k;
  }
  return -1;
}

/* ---- livehub ---- */

static void lh_subscribe(conn_t *c, int slot) {
  sub_t *sb = &ext[c->index].sub[slot];
  char name[32], msg[256];
  channel_name(sb->channel, name, sizeof name);
  if (sb->epoch[0]) snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"channel\":\"%s\",\"since\":{\"offset\":%lld,\"epoch\":\"%s\"},\"id\":%d}", name, sb->last_offset, sb->epoch, slot + 1);
  else snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"channel\":\"%s\",\"id\":%d}", name, slot + 1);
  send_msg(c, msg);
}

static void lh_text(conn_t *c, const char *t) {
  ext_t *e = &ext[c->index];
  if (!strncmp(t, "{\"channel\":\"", 12)) { /* a hub message */
    int slot = slot_of(c, t + 12);
    long long s = num_after(t, "\"s\":", -1);
    if (slot < 0 || s < 0) { fprintf(stderr, "storm: unexpected message: %s\n", t); return; }
    account(c, slot, s, num_after(t, "\"offset\":", 0));
    return;
  }
  const char *ch = after(t, "\"channel\":\"");
  int slot = ch ? slot_of(c, ch) : -1;
  if (!strncmp(t, "{\"type\":\"subscribed\"", 20) && slot >= 0) {
    if (!(e->pending & (1 << slot))) return; /* a late second answer after a resend */
    sub_t *sb = &e->sub[slot];
    char epoch[32];
    long long offset = num_after(t, "\"offset\":", -1);
    if (!str_after(t, "\"epoch\":\"", epoch, sizeof epoch) || offset < 0) { fprintf(stderr, "storm: cut or malformed answer: %s\n", t); exit(1); }
    const char *rec = after(t, "\"recovered\":");
    if (rec && !strncmp(rec, "true", 4)) e->recovered++;
    else {
      if (rec) e->not_recovered++;
      sb->last_offset = offset; /* a new stream, or a fresh subscribe: continue from where it stands */
      strcpy(sb->epoch, epoch);
    }
    e->pending &= ~(1 << slot);
    if (!e->pending) became_ready(c);
  } else if (!strncmp(t, "{\"type\":\"reset\"", 15) && slot >= 0) {
    resets++;
    e->sub[slot].last_offset = num_after(t, "\"offset\":", 0);
    str_after(t, "\"epoch\":\"", e->sub[slot].epoch, sizeof e->sub[slot].epoch);
  } else if (!strncmp(t, "{\"type\":\"error\"", 15)) {
    if (strstr(t, "\"already_subscribed\"")) return; /* the answer to a resend; the first answer counts */
    if (sub_errors++ < 5) fprintf(stderr, "storm: error frame: %s\n", t);
    /* The client retries unavailable, internal and rate_limited subscribes with backoff on the same connection. */
    if (e->phase == PH_SUBSCRIBING) arm(c, now_us() + backoff(e->sub_failures++));
  }
}

/* A subscribe was not answered within the client's ackTimeout, or its retry is due: send what is still unanswered. */
void proto_retry(conn_t *c) {
  ext_t *e = &ext[c->index];
  if (cfg.protocol != P_LIVEHUB) return;
  for (int k = 0; k < 2 && c->state != S_CLOSED; k++) if (e->pending & (1 << k)) lh_subscribe(c, k);
  arm(c, now_us() + scfg.subscribe_timeout);
}

/* ---- Socket.IO (Engine.IO 4 over a WebSocket) ---- */

static void sio_subscribe(conn_t *c) {
  char name[32], msg[96];
  for (int k = 0; k < 2; k++) {
    channel_name(ext[c->index].sub[k].channel, name, sizeof name);
    snprintf(msg, sizeof msg, "42%d[\"subscribe\",\"%s\"]", k + 1, name);
    if (send_msg(c, msg) < 0) return;
  }
}

static void sio_text(conn_t *c, const char *t, int n) {
  ext_t *e = &ext[c->index];
  if (n == 1 && t[0] == '2') { send_msg(c, "3"); return; } /* Engine.IO ping */
  if (t[0] == '0') { /* Engine.IO open: connect to the main namespace, with the session to recover if there is one */
    char msg[160];
    arm(c, 0); /* opened; socket.io-client has no deadline for the CONNECT answer or the subscribes' acks */
    if (e->pid[0] && e->offset[0]) snprintf(msg, sizeof msg, "40{\"pid\":\"%s\",\"offset\":\"%s\"}", e->pid, e->offset);
    else strcpy(msg, "40");
    send_msg(c, msg);
    return;
  }
  if (!strncmp(t, "40", 2)) {
    char pid[48] = "";
    str_after(t, "\"pid\":\"", pid, sizeof pid);
    if (e->pid[0] && !strcmp(pid, e->pid)) { e->recovered += 2; became_ready(c); return; } /* rooms and missed packets restored */
    if (e->pid[0]) e->not_recovered += 2;
    strcpy(e->pid, pid);
    e->pending = 3;
    e->phase = PH_SUBSCRIBING;
    sio_subscribe(c);
    return;
  }
  if (!strncmp(t, "43", 2)) { /* 431[] and 432[]: the subscribes' acks */
    int k = (int)strtol(t + 2, NULL, 10) - 1;
    if (e->phase == PH_SUBSCRIBING && k >= 0 && k < 2 && (e->pending & (1 << k)) && !(e->pending &= ~(1 << k))) became_ready(c);
    return;
  }
  if (!strncmp(t, "42[\"message\",{\"channel\":\"", 25)) {
    int slot = slot_of(c, t + 25);
    long long s = num_after(t, "\"s\":", -1);
    if (slot < 0 || s < 0) { fprintf(stderr, "storm: unexpected message: %s\n", t); return; }
    const char *end = t + n;
    if (n > 2 && end[-1] == ']' && end[-2] == '"') { /* the packet's offset, appended by connection-state recovery */
      const char *q = end - 3;
      while (q > t && *q != '"') q--;
      int len = (int)(end - 2 - (q + 1));
      if (len > 0 && len < (int)sizeof e->offset) { memcpy(e->offset, q + 1, len); e->offset[len] = 0; }
    }
    account(c, slot, s, 0);
    return;
  }
  if (!strncmp(t, "44", 2) || !strncmp(t, "41", 2)) { sub_errors++; storm_close(c, 1); }
}

/* ---- both ---- */

void proto_opened(conn_t *c) {
  if (c == &pub) { if (cfg.protocol == P_LIVEHUB) became_ready(c); else ex(c)->phase = PH_OPENING; return; }
  ext_t *e = &ext[c->index];
  if (cfg.protocol == P_SOCKETIO) { e->phase = PH_OPENING; return; } /* the connect deadline runs until Engine.IO's open packet */
  arm(c, now_us() + scfg.subscribe_timeout);
  e->phase = PH_SUBSCRIBING;
  e->pending = 3;
  e->sub_failures = 0;
  for (int k = 0; k < 2 && c->state != S_CLOSED; k++) lh_subscribe(c, k);
}

static void pub_text(conn_t *c, const char *t, int n) {
  long long id = -1;
  if (cfg.protocol == P_LIVEHUB) {
    if (!strncmp(t, "{\"type\":\"ack\"", 13)) id = num_after(t, "\"id\":\"p", -1);
    else if (!strncmp(t, "{\"type\":\"error\"", 15)) fprintf(stderr, "storm: the publisher got an error frame: %s\n", t);
  } else if (n == 1 && t[0] == '2') send_msg(c, "3");
  else if (t[0] == '0') send_msg(c, "40");
  else if (!strncmp(t, "40", 2)) became_ready(c);
  else if (!strncmp(t, "43", 2)) id = strtoll(t + 2, NULL, 10);
  if (id >= 0 && id < nrecs && !recs[id].acked) {
    channel_acked(recs[id].channel, recs[id].s, pub_generation);
    recs[id].acked = 1;
    pub_acked++;
    while (first_unacked < nrecs && recs[first_unacked].acked) first_unacked++;
  }
}

void proto_text(conn_t *c, char *text, int n) {
  if (c == &pub) pub_text(c, text, n);
  else if (cfg.protocol == P_LIVEHUB) lh_text(c, text);
  else sio_text(c, text, n);
}

static void pub_send(long long id) {
  char name[32], msg[200];
  channel_name(recs[id].channel, name, sizeof name);
  if (recs[id].sent++) pub_resent++;
  if (cfg.protocol == P_LIVEHUB) snprintf(msg, sizeof msg, "{\"type\":\"publish\",\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"s\":%lld},\"id\":\"p%lld\"}", name, recs[id].s, id);
  else snprintf(msg, sizeof msg, "42%lld[\"publish\",{\"channel\":\"%s\",\"event\":\"m\",\"data\":{\"s\":%lld}}]", id, name, recs[id].s);
  send_msg(&pub, msg);
}

void pub_start(void) { pub_began = now_us(); }
void pub_stop(void) {}

/* The publisher's connection is (again) ready: what was not acked goes out, in order. */
void pub_opened(void) {
  if (pub_was_open) {
    for (long long id = first_unacked; id < nrecs && ex(&pub)->phase == PH_READY; id++) {
      if (recs[id].acked) continue;
      pub_send(id);
    }
  }
  pub_was_open = 1;
}

void pub_tick(int64_t now) {
  long long want = (now - pub_began) * scfg.rate / 1000000;
  int groups = (nconns + scfg.group - 1) / scfg.group;
  for (; due < want; due++) {
    int channel = due % 2 == 0 ? nconns + (int)((due / 2) % groups) : (int)(((due / 2) * 7919) % nconns);
    if (nrecs == caprecs) { caprecs = caprecs ? caprecs * 2 : 65536; recs = realloc(recs, caprecs * sizeof *recs); }
    recs[nrecs++] = (rec_t){ channel, channel_sent(channel), 0, 0 };
    pub_count++;
    if (ex(&pub)->phase == PH_READY) pub_send(nrecs - 1);
    else pub_queued++;
  }
}
