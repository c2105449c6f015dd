/**
 * `subscribe`: a hub session subscribed to one channel, its messages yielded as tRPC events with
 * `tracked(id, event)`, the id the channel's stream position (the SSE resume id,
 * pkg/protocol/resume-id.ts). tRPC's client sends the last id back as `lastEventId` when it
 * reconnects, to this node or another sharing the engine: the session subscribes from that position,
 * and history replays what was missed with no duplicate, or, when history no longer holds it, a
 * `gap` event says so (never silent), as the WebSocket client's `recovered` and `gap` events do.
 */
import { tracked, type TrackedEnvelope } from '@trpc/server';
import { formatResumeId, isCarriableEpoch, parseResumeId, type HubMessage, type StreamPosition } from '../protocol/index.js';
import type { TransportHost } from '../transport/index.js';
import type { Caller } from './endpoint.js';
import { refused, toTRPCError, RealtimeError } from './errors.js';
import type { SubscribeInput } from './schemas.js';
import { SubscriptionStream } from './stream.js';

/** An event of a subscription (`data` of each `{ id, data }` the client gets). */
export type RealtimeEvent =
  /** Subscribed afresh: messages after `position` follow. `client` is the subscription's connection id (for `publish`'s `client`). */
  | { kind: 'subscribed'; channel: string; client: string; position: StreamPosition }
  /** Resumed from `lastEventId`: history replays the messages after `from` up to `to`, then live ones follow. */
  | { kind: 'recovered'; channel: string; client: string; from: StreamPosition; to: StreamPosition }
  /**
   * Messages after `since` may be missing (history no longer holds them, or the stream's history
   * was lost while subscribed): what follows comes after `position`. Reload what the messages build.
   */
  | { kind: 'gap'; channel: string; client: string; since: StreamPosition; position: StreamPosition }
  /** A message of the channel. */
  | { kind: 'message'; message: HubMessage };

const SUBSCRIBE_ID = 'trpc-subscribe';

/** Close codes the caller can do something about, mapped to livehub's codes (the rest: `unavailable`). */
const CLOSES: Record<number, string> = { 4001: 'rate_limited', 4002: 'unauthorized', 4003: 'rate_limited', 4503: 'unauthorized' };

export async function* subscription(host: TransportHost, caller: Caller, input: SubscribeInput, signal: AbortSignal | undefined): AsyncGenerator<TrackedEnvelope<RealtimeEvent>, void> {
  const { channel, filter, lastEventId } = input;
  let since: StreamPosition | undefined;
  if (lastEventId !== undefined && lastEventId !== null) {
    since = parseResumeId(lastEventId).get(channel);
    if (!since || !isCarriableEpoch(since.epoch)) throw refused('bad_request', `lastEventId ${JSON.stringify(lastEventId.slice(0, 100))} is no position in ${channel} (an event id of this subscription)`);
  }
  const stream = new SubscriptionStream();
  const events = host.open(stream, caller.request, caller.identity, { fullProtocol: true });
  stream.events = events;
  const client = events.id;
  events.receive(JSON.stringify({ type: 'subscribe', channel, id: SUBSCRIBE_ID, ...(since ? { since } : {}), ...(filter ? { filter } : {}) }));
  const id = (position: StreamPosition) => formatResumeId(new Map([[channel, position]]));
  let position: StreamPosition | null = null;
  const stop = () => stream.stop();
  if (signal?.aborted) stop();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const item = await stream.next();
      if (item === null) return;
      if (item.kind === 'close') {
        throw toTRPCError(new RealtimeError(CLOSES[item.code] ?? 'unavailable', `livehub: the hub ended the subscription to ${channel} (${item.code} ${item.reason})`));
      }
      if (item.kind === 'message') {
        const { message } = item;
        if (message.channel !== channel || position === null || typeof message.offset !== 'number') continue;
        delete (message as { trace?: unknown }).trace;
        position = { offset: message.offset, epoch: position.epoch };
        yield tracked(id(position), { kind: 'message', message });
        continue;
      }
      const { reply } = item;
      if (reply.type === 'error' && reply.id === SUBSCRIBE_ID) throw toTRPCError(new RealtimeError(String(reply.code), `livehub: ${String(reply.message)}`));
      if (reply.channel !== channel) continue;
      const at = typeof reply.offset === 'number' && typeof reply.epoch === 'string' ? { offset: reply.offset, epoch: reply.epoch } : null;
      if (reply.type === 'subscribed' && reply.id === SUBSCRIBE_ID && at) {
        if (since && reply.recovered === true) {
          // The replay follows at once and moves the position from where the caller is.
          position = { ...since };
          yield tracked(id(since), { kind: 'recovered', channel, client, from: since, to: at });
        } else if (since) {
          position = at;
          yield tracked(id(at), { kind: 'gap', channel, client, since, position: at });
        } else {
          position = at;
          yield tracked(id(at), { kind: 'subscribed', channel, client, position: at });
        }
      } else if (reply.type === 'reset' && at && position !== null) {
        const before = position;
        position = at;
        yield tracked(id(at), { kind: 'gap', channel, client, since: before, position: at });
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    stream.finish();
  }
}
