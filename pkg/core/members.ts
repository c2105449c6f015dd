import type { Session } from './session.js';

/**
 * The sessions of one channel, or of one user, on this node. Most channels of a chat or notification
 * app (a user's personal channel, a direct conversation) have one subscriber on a node, and most users
 * one connection: those keep the session itself instead of a Set of one, which would cost about 170
 * bytes each (bench/memory.ts). A second member turns it into a Set, and the Set turns back into the
 * session when one is left.
 */
export type Members = Session | Set<Session>;

/** What a caller may iterate and count; a Set of one is never built for it. */
export function membersOf(members: Members | undefined): Iterable<Session> {
  if (members === undefined) return NONE;
  return members instanceof Set ? members : [members];
}

const NONE: readonly Session[] = [];

export function memberCount(members: Members | undefined): number {
  if (members === undefined) return 0;
  return members instanceof Set ? members.size : 1;
}

/** Adds `session` under `key`; true when `key` had no members before. */
export function addMember(map: Map<string, Members>, key: string, session: Session): boolean {
  const members = map.get(key);
  if (members === undefined) {
    map.set(key, session);
    return true;
  }
  if (members instanceof Set) members.add(session);
  else if (members !== session) map.set(key, new Set([members, session]));
  return false;
}

/** Removes `session` from `key` (the key goes with its last member); true when it was a member. */
export function removeMember(map: Map<string, Members>, key: string, session: Session): boolean {
  const members = map.get(key);
  if (members === undefined) return false;
  if (!(members instanceof Set)) {
    if (members !== session) return false;
    map.delete(key);
    return true;
  }
  if (!members.delete(session)) return false;
  if (members.size === 0) map.delete(key);
  else if (members.size === 1) map.set(key, members.values().next().value!);
  return true;
}
