/*
 * The C load generator's side of Centrifuge's JSON protocol (bench/servers/centrifuge, the Go library
 * behind Centrifugo, 0.15): every command carries an id and gets a reply; replies and publications
 * come one a line ('\n' after each), several lines in one frame when the server's queue for a client
 * holds more than one (wire.c counts the lines). A connection sends connect first, its subscribes once
 * the connect reply came; the publisher's publishes are numbered from 2.
 *
 *   connect    {"id":1,"params":{}}
 *   subscribe  {"id":N,"method":1,"params":{"channel":"c"}}
 *   publish    {"id":N,"method":3,"params":{"channel":"c","data":{"t":…,"p":"…"}}}
 *   a publication, as it arrives: {"result":{"channel":"c","data":{"data":{"t":…,"p":"…"},"offset":N}}}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "loadgen.h"

void cf_connect(conn_t *c) { send_str(c, "{\"id\":1,\"params\":{}}"); }

void cf_subscribe(conn_t *c, const char names[2][32], int count) {
  /* One frame: the server reads its lines in order. */
  char msg[256];
  int n = 0;
  for (int k = 0; k < count; k++)
    n += snprintf(msg + n, sizeof msg - n, "%s{\"id\":%d,\"method\":1,\"params\":{\"channel\":\"%s\"}}", k ? "\n" : "", k + 2, names[k]);
  send_str(c, msg);
}

int cf_publish(char *out, long long id, const char *channel, long long at, const char *pad) {
  return sprintf(out, "{\"id\":%lld,\"method\":3,\"params\":{\"channel\":\"%s\",\"data\":{\"t\":%lld,\"p\":\"%s\"}}}", id, channel, at, pad);
}

/*
 * `lines` replies during setup (the first bytes in c->prefix): an error ends the run with it; else
 * they count off c->setup_left. Returns 1 for the connect reply (setup_left was `first`).
 */
int cf_setup_reply(conn_t *c, int lines, int first) {
  if (strstr(c->prefix, "\"error\"")) {
    fprintf(stderr, "loadgen: Centrifuge refused a command: %s\n", c->prefix);
    errno = 0;
    exit(1);
  }
  int connected = c->setup_left == first;
  c->setup_left -= lines;
  return connected;
}
