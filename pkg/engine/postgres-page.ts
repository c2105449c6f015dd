import { checkKnownOptions } from '../options-check.js';
import type { Publication, StreamPosition } from './engine.js';
import type { Query } from './postgres-follow.js';
import { rowToPublication, type MessageRow } from './postgres-rows.js';

/**
 * Paging through a channel's stored history by offset, in either direction: each page is one index
 * range read on (channel, offset), so a page costs the same at the start, the middle or the end of
 * millions of stored messages. Only what the channel's history still holds (its size and ttl) is read.
 */

/** Which page: after an offset (forwards), before one (backwards), or both (a range); neither: the latest. */
export interface PageOptions {
  /** Messages with offsets above this one, oldest first. */
  after?: number;
  /** Messages with offsets below this one: the `limit` closest to it, still oldest first. */
  before?: number;
  /** Messages per page, 1 to 1000. @default 100 */
  limit?: number;
}

export interface Page {
  /** The channel's current position. */
  position: StreamPosition;
  /** The page's publications, oldest first. */
  publications: Publication[];
}

export async function readPage(query: Query, schema: string, channel: string, options: PageOptions = {}): Promise<Page> {
  checkKnownOptions(options, ['after', 'before', 'limit'], 'engine.page()');
  const { after, before, limit = 100 } = options;
  for (const [name, value] of [['after', after], ['before', before]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) throw new TypeError(`livehub: page ${name} must be an offset (a whole number)`);
  }
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw new TypeError('livehub: page limit must be a whole number from 1 to 1000');
  const backwards = after === undefined;
  const rows = await query<MessageRow & { top: string; current: string }>(`a page of channel '${channel}'`,
    `with c as (select * from ${schema}.position($1)),
     page as (
       select m."offset", m.type, m.data, m.tags, m.publisher, m.trace from c
       join ${schema}.channels ch on ch.name = $1
       join ${schema}.messages m on m.channel = $1 and m.epoch = c.epoch
         and m."offset" > greatest($2::bigint, c."offset" - ch.history_size) and m."offset" < $3::bigint
         and m.expires_at > clock_timestamp()
       order by m."offset" ${backwards ? 'desc' : 'asc'} limit $4)
     select c.epoch as current, c."offset" as top, p.* from c left join page p on true order by p."offset"`,
    [channel, after ?? -1, before ?? Number.MAX_SAFE_INTEGER, limit]);
  const first = rows[0]!;
  const position = { offset: Number(first.top), epoch: first.current };
  const publications = rows.filter((r) => r.offset !== null).map((r) => rowToPublication(channel, position.epoch, r));
  return { position, publications };
}
