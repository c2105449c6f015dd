/**
 * The inputs of livehub/trpc's procedures, validated with livehub's own rules for names, tags and
 * positions and offered through the Standard Schema interface (https://standardschema.dev), which
 * tRPC 11 takes as an input parser like a zod schema: a bad input is a `BAD_REQUEST` naming the field.
 * Unknown fields are refused, as everywhere in livehub.
 */
import { isValidChannel, isValidTags, isValidType, MAX_RESUME_ID } from '../protocol/index.js';

/** The Standard Schema v1 interface, as tRPC reads it. */
export interface StandardSchema<Output> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => { value: Output } | { issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey> }> };
    readonly types?: { readonly input: Output; readonly output: Output };
  };
}

/** `publish`'s input. */
export interface PublishInput {
  channel: string;
  /** The message's type. */
  type: string;
  data?: unknown;
  /** Tags subscribers' filters match (at most 16 string values). */
  tags?: Record<string, string>;
  /**
   * The caller's own connection (the `client` of its subscription's `subscribed` event): the message
   * is stamped from it, as that connection's publish would be. It must be a live connection of the
   * caller's user.
   */
  client?: string;
  /** Every subscriber but `client` gets the message. */
  exceptSelf?: boolean;
}

/** `presence`'s input. */
export interface PresenceInput {
  channel: string;
}

/** `history`'s input. */
export interface HistoryInput {
  channel: string;
  /** How many of the last messages (at most the channel's history size). @default 100 */
  limit?: number;
}

/** `subscribe`'s input. */
export interface SubscribeInput {
  channel: string;
  /** Only messages whose tags have these values. */
  filter?: Record<string, string>;
  /** Where to resume: the id of the last event received (tRPC's client sends it when it reconnects). */
  lastEventId?: string | null;
}

type Check = (value: unknown) => string | null;

const channel: Check = (value) => isValidChannel(value) ? null : 'must be a channel name (1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $, or "*")';
const type: Check = (value) => isValidType(value) ? null : 'must be a message type (1-255 characters of A-Z a-z 0-9 _ - : . @ / = + , ! ~ # $)';
const tags: Check = (value) => isValidTags(value) ? null : 'must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters';
const connection: Check = (value) => typeof value === 'string' && value.length > 0 && value.length <= 128 ? null : 'must be a connection id (a string of 1-128 characters, as in a message\'s from.client)';
const boolean: Check = (value) => typeof value === 'boolean' ? null : 'must be a boolean';
const limit: Check = (value) => Number.isInteger(value) && (value as number) >= 0 ? null : 'must be a whole number >= 0';
const resumeId: Check = (value) => value === null || (typeof value === 'string' && value.length <= MAX_RESUME_ID) ? null : 'must be the id of an event of this subscription';
const any: Check = () => null;

/** A schema of an object with these fields (`required` ones must be there; no others may be). */
function object<Output>(fields: Record<string, Check>, required: readonly string[]): StandardSchema<Output> {
  return {
    '~standard': {
      version: 1,
      vendor: 'livehub',
      validate(value) {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return { issues: [{ message: 'livehub: the input must be an object' }] };
        const issues: Array<{ message: string; path: PropertyKey[] }> = [];
        const record = value as Record<string, unknown>;
        for (const name of required) if (record[name] === undefined) issues.push({ message: `livehub: ${name} is required`, path: [name] });
        for (const [name, field] of Object.entries(record)) {
          const check = fields[name];
          if (!check) issues.push({ message: `livehub: unknown field ${JSON.stringify(name)} (known: ${Object.keys(fields).join(', ')})`, path: [name] });
          else if (field !== undefined) {
            const problem = check(field);
            if (problem) issues.push({ message: `livehub: ${name} ${problem}`, path: [name] });
          }
        }
        return issues.length > 0 ? { issues } : { value: value as Output };
      },
    },
  };
}

export const publishInput = object<PublishInput>({ channel, type, data: any, tags, client: connection, exceptSelf: boolean }, ['channel', 'type']);
export const presenceInput = object<PresenceInput>({ channel }, ['channel']);
export const historyInput = object<HistoryInput>({ channel, limit }, ['channel']);
export const subscribeInput = object<SubscribeInput>({ channel, filter: tags, lastEventId: resumeId }, ['channel']);
