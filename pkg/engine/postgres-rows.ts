import type { Publication, PublishOptions } from './engine.js';

/** How the PostgreSQL engine turns messages-table rows into publications, and options into columns. */

export interface MessageRow {
  offset: string | number;
  type: string;
  data: string;
  tags: Record<string, string> | null;
  publisher: Publication['from'] | null;
  trace: Publication['trace'] | null;
}

export function rowToPublication(channel: string, epoch: string, row: MessageRow): Publication {
  const publication: Publication = { channel, offset: Number(row.offset), epoch, type: row.type, data: row.data };
  if (row.tags !== null && row.tags !== undefined) publication.tags = row.tags;
  if (row.publisher !== null && row.publisher !== undefined) publication.from = row.publisher;
  if (row.trace !== null && row.trace !== undefined) publication.trace = row.trace;
  return publication;
}

/** The tags, publisher and trace columns (JSON text, or null), in that order. */
export function extraColumns(options: PublishOptions): [string | null, string | null, string | null] {
  return [
    options.tags === undefined ? null : JSON.stringify(options.tags),
    options.from === undefined ? null : JSON.stringify(options.from),
    options.trace === undefined ? null : JSON.stringify(options.trace),
  ];
}
