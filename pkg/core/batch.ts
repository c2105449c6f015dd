import type { Publication } from '../engine/engine.js';
import { encodePublication, exceptedClient } from './encode.js';

/**
 * A turn's publications of one channel, side by side: their offsets, wire JSON and types (what the
 * wire formats take), the publications themselves (what except-self and filters read), and the
 * connections that must not get some of them. Each publication is encoded once, when it is added.
 */
export interface Batch {
  offsets: number[];
  payloads: string[];
  types: string[];
  publications: Publication[];
  excepted: Set<string> | null;
}

/** A publication held back for one connection, with its wire JSON (see streams.ts). */
export interface Held {
  publication: Publication;
  payload: string;
}

/** Adds a publication to its channel's batch of this turn, starting the batch if needed. */
export function addToBatch(batches: Map<string, Batch>, publication: Publication): void {
  const { channel, offset, type } = publication;
  const payload = encodePublication(publication);
  let batch = batches.get(channel);
  if (batch) {
    batch.offsets.push(offset);
    batch.payloads.push(payload);
    batch.types.push(type);
    batch.publications.push(publication);
  } else batches.set(channel, (batch = { offsets: [offset], payloads: [payload], types: [type], publications: [publication], excepted: null }));
  const excepted = exceptedClient(publication);
  if (excepted !== null) (batch.excepted ??= new Set()).add(excepted);
}

/** Whether a publication's tags have every value a subscription's filter asks for. */
export function matchesFilter(publication: Publication, filter: Record<string, string>): boolean {
  const tags = publication.tags;
  for (const key in filter) if (tags === undefined || tags[key] !== filter[key]) return false;
  return true;
}
