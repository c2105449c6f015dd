/*
 * The storm generator's accounting (see storm.c): per channel (0..n-1 personal u<i>, then the groups
 * g<k>), the sequence numbers the publisher sent and which of them were acked; per subscriber and
 * channel, the gaps in what arrived. A delivery is lost when an acked publish never reached a
 * subscriber of its channel, and doubled when it reached one twice.
 */
#include <stdlib.h>
#include <stdio.h>

#include "storm.h"

typedef struct { long long sent, cap; uint8_t *acked; } chan_t;
typedef struct { int conn, slot; long long from, to; } gap_t; /* sequence numbers in (from, to) never arrived */

static chan_t *chans;
static gap_t *gaps;
static long long ngaps, capgaps;
long long dup_total, gaps_total;

void channels_init(int count) { chans = calloc(count, sizeof *chans); }

int channel_name(int channel, char *out, int size) {
  return channel < nconns ? snprintf(out, size, "u%d", channel) : snprintf(out, size, "g%d", channel - nconns);
}

long long channel_sent(int channel) { return ++chans[channel].sent; }

/* 1: acked on the publisher's first connection; 2: on one it opened after MARK (a restarted node's). */
void channel_acked(int channel, long long s, int after_mark) {
  chan_t *ch = &chans[channel];
  if (s >= ch->cap) {
    long long cap = ch->cap ? ch->cap : 16;
    while (cap <= s) cap *= 2;
    ch->acked = realloc(ch->acked, cap);
    memset(ch->acked + ch->cap, 0, cap - ch->cap);
    ch->cap = cap;
  }
  ch->acked[s] = 1 + (after_mark != 0);
}

static int was_acked(int channel, long long s) { return s < chans[channel].cap ? chans[channel].acked[s] : 0; }

void account(conn_t *c, int slot, long long s, long long offset) {
  sub_t *sb = &ext[c->index].sub[slot];
  if (s <= sb->last_s) dup_total++;
  else {
    if (s > sb->last_s + 1) {
      if (ngaps == capgaps) { capgaps = capgaps ? capgaps * 2 : 4096; gaps = realloc(gaps, capgaps * sizeof *gaps); }
      gaps[ngaps++] = (gap_t){ c->index, slot, sb->last_s, s };
      gaps_total++;
    }
    sb->last_s = s;
  }
  if (offset > sb->last_offset) sb->last_offset = offset;
}

void count_lost(long long lost[3]) {
  for (long long g = 0; g < ngaps; g++) {
    int ch = ext[gaps[g].conn].sub[gaps[g].slot].channel;
    for (long long s = gaps[g].from + 1; s < gaps[g].to; s++) lost[was_acked(ch, s)]++;
  }
  for (int i = 0; i < nconns; i++)
    for (int k = 0; k < 2; k++) { /* the tail: sent, never seen */
      sub_t *sb = &ext[i].sub[k];
      for (long long s = sb->last_s + 1; s <= chans[sb->channel].sent; s++) lost[was_acked(sb->channel, s)]++;
    }
}
