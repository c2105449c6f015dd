/**
 * The SSE resume id: where a stream stands in every one of its channels, in one `id:` field, so the
 * browser's own reconnect (it sends the last id back as `Last-Event-ID`) lets any node resume every
 * channel with no loss and no duplicate. Channel names never contain spaces, so the id is the
 * channels' `name offset epoch` triples joined by spaces: `chat 12 k3x.1 news 5 k3x.2`.
 */

import type { StreamPosition } from './messages.js';

/** Longest `Last-Event-ID` accepted (128 channels of 255-character names, with room to spare). */
export const MAX_RESUME_ID = 64 * 1024;

/** Printable ASCII with no space: what an epoch is, and all that may stand in an `id:` line. */
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * Whether a stream may carry `epoch` in its id as it stands, before the engine has confirmed it: a
 * position parsed from a `Last-Event-ID` or a `lastEventId` parameter is the client's text, and a
 * line break in it would end the id line (and let the text forge events).
 */
export function isCarriableEpoch(epoch: string): boolean {
  return PRINTABLE.test(epoch);
}

export function formatResumeId(positions: ReadonlyMap<string, StreamPosition>): string {
  let id = '';
  for (const [channel, { offset, epoch }] of positions) id += `${id ? ' ' : ''}${channel} ${offset} ${epoch}`;
  return id;
}

/**
 * Parses a resume id; channels that do not parse are left out (the stream then subscribes to them
 * afresh). Never throws.
 */
export function parseResumeId(id: string | undefined | null): Map<string, StreamPosition> {
  const positions = new Map<string, StreamPosition>();
  if (!id || id.length > MAX_RESUME_ID) return positions;
  const parts = id.trim().split(/ +/);
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const offset = Number(parts[i + 1]);
    const epoch = parts[i + 2]!;
    if (!Number.isSafeInteger(offset) || offset < 0 || epoch.length === 0 || epoch.length > 64) continue;
    positions.set(parts[i]!, { offset, epoch });
  }
  return positions;
}
