import type { Hub } from '../index.js';
import { peerChannel, roomChannel, type PeerInfo } from './names.js';

/**
 * Who is in a room, on every node, read from the hub's presence alone: the room's presence channel
 * names its users; each user's live connections (`hub.connectedClients`) are candidates, and a
 * candidate is a peer of the room while its own peer channel has it present. Presence entries of a
 * dead node expire within the hub's `presenceTtl`, so its peers drop out of the roster by then.
 */

/** Presence names an anonymous connection `anonymous:<connection id>`. */
const ANONYMOUS = 'anonymous:';

/** Whether `peer` is in `room` now (its peer channel has it present), on any node. */
export async function isPeerIn(hub: Hub, room: string, peer: string): Promise<boolean> {
  return (await hub.presenceOf(peerChannel(room, peer))).length > 0;
}

/** The peers of `room`, with their users. */
export async function roster(hub: Hub, room: string): Promise<PeerInfo[]> {
  const members = await hub.presenceOf(roomChannel(room));
  const candidates = await Promise.all(members.map(async ({ userId }): Promise<PeerInfo[]> => {
    if (userId.startsWith(ANONYMOUS)) return [{ peer: userId.slice(ANONYMOUS.length), user: null }];
    return (await hub.connectedClients(userId)).map((peer) => ({ peer, user: userId }));
  }));
  const flat = candidates.flat();
  const present = await Promise.all(flat.map((candidate) => isPeerIn(hub, room, candidate.peer)));
  return flat.filter((_, i) => present[i]);
}

/**
 * Resolves once `peer`'s presence in `room` can be read from every node (the hub writes it on its
 * loop's next turn, then to the engine), so that a signal sent to it as soon as others hear of it
 * passes the membership check. Rejects after `timeout` ms.
 */
export async function untilPresent(hub: Hub, room: string, peer: string, timeout = 3000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    if (await isPeerIn(hub, room, peer)) return;
    if (Date.now() + wait > deadline) throw new Error(`the presence of ${peer} in room ${room} was not written within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
