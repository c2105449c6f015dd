/**
 * The HTTP API's commands: publish, broadcast, history, presence, channels, info, disconnect, and a
 * batch of them. Each validates its input (naming the field and what is allowed) and calls the
 * hub's public methods; the same code serves the endpoints and the entries of a batch.
 */
import { createHash } from 'node:crypto';
import type { PublishResult } from '../../engine/engine.js';
import { closestOption } from '../../options-check.js';
import type { Reporter } from '../index.js';
import { ErrorCode, isValidChannel, isValidType, NAME_CHARACTERS, type HubMessage, type PresenceMember, type StreamPosition } from '../../protocol/index.js';
import { ApiError, fromHubError } from './errors.js';

/** What the HTTP API needs of the hub: its public methods (see pkg/realtime/hub.ts). */
export interface HttpApiHub {
  readonly reporter: Reporter;
  readonly options: { readonly maxJsonDepth: number; readonly maxJsonKeys: number };
  publish(channel: string, type: string, data?: unknown, options?: { idempotencyKey?: string; exceptClient?: string }): Promise<PublishResult>;
  history(channel: string, options?: { limit?: number }): Promise<{ position: StreamPosition; messages: HubMessage[]; complete: boolean }>;
  presenceOf(channel: string): Promise<PresenceMember[]>;
  channelList(): Array<{ channel: string; subscribers: number }>;
  info(): object;
  disconnectUser(userId: string, reason?: string): Promise<void>;
}

export type Input = Record<string, unknown>;
export type CommandName = 'publish' | 'broadcast' | 'history' | 'presence' | 'channels' | 'info' | 'disconnect';

/** What a command runs with. */
export interface CommandContext {
  hub: HttpApiHub;
  /** Most channels in a broadcast and commands in a batch. */
  maxBatch: number;
  /** Prefix for field names in messages: `''`, or `commands[3].` inside a batch. */
  where: string;
}

/** Longest publish id, in characters. */
export const MAX_ID_LENGTH = 128;
/** Most messages a history read returns. */
export const MAX_HISTORY_LIMIT = 10_000;

interface Command {
  fields: readonly string[];
  /** Tokens of the key's rate limit it costs. */
  cost(input: Input): number;
  run(input: Input, context: CommandContext): Promise<object>;
}

export const COMMANDS: Record<CommandName, Command> = {
  publish: {
    fields: ['channel', 'type', 'data', 'id', 'exceptClient'],
    cost: () => 1,
    async run(input, context) {
      const channel = channelField(input.channel, `${context.where}channel`);
      const type = typeField(input.type, context.where);
      const id = idField(input.id, context.where);
      const { exceptClient } = input;
      if (exceptClient !== undefined && (typeof exceptClient !== 'string' || exceptClient.length === 0 || exceptClient.length > 128)) {
        throw badRequest(`${context.where}exceptClient must be a connection id (a string of 1-128 characters, as in a message's from.client)`);
      }
      return { channel, ...position(await publishOne(context.hub, channel, type, input.data, id, exceptClient)) };
    },
  },
  broadcast: {
    fields: ['channels', 'type', 'data', 'id'],
    cost: (input) => (Array.isArray(input.channels) ? Math.max(1, input.channels.length) : 1),
    async run(input, context) {
      const { where, maxBatch } = context;
      if (!Array.isArray(input.channels) || input.channels.length === 0) {
        throw badRequest(`${where}channels is required: an array of 1-${maxBatch} channel names`);
      }
      if (input.channels.length > maxBatch) throw badRequest(`${where}channels has ${input.channels.length} entries; at most ${maxBatch} (maxBatch)`);
      const channels = input.channels.map((c, i) => channelField(c, `${where}channels[${i}]`));
      const repeated = channels.findIndex((c, i) => channels.indexOf(c) !== i);
      if (repeated >= 0) throw badRequest(`${where}channels[${repeated}] repeats ${JSON.stringify(channels[repeated])}; name each channel once`);
      const type = typeField(input.type, where);
      const id = idField(input.id, where);
      const settled = await Promise.allSettled(channels.map((c) => publishOne(context.hub, c, type, input.data, id)));
      const failures = settled.map((s) => (s.status === 'rejected' ? apiError(context.hub, s.reason) : null));
      // Every channel failed: the broadcast failed, with the status of its first failure (503).
      if (failures.every((f) => f !== null)) throw failures[0]!;
      return {
        results: settled.map((s, i) => (s.status === 'fulfilled'
          ? { channel: channels[i], ...position(s.value) }
          : { channel: channels[i], ...failures[i]!.toJSON() })),
      };
    },
  },
  history: {
    fields: ['channel', 'limit'],
    cost: () => 1,
    async run(input, context) {
      const channel = channelField(input.channel, `${context.where}channel`);
      const { limit = 100 } = input;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_HISTORY_LIMIT) {
        throw badRequest(`${context.where}limit must be a whole number from 0 to ${MAX_HISTORY_LIMIT}, got ${show(limit)}`);
      }
      const { position: at, messages, complete } = await context.hub.history(channel, { limit });
      return { channel, position: at, messages, complete };
    },
  },
  presence: {
    fields: ['channel'],
    cost: () => 1,
    async run(input, context) {
      const channel = channelField(input.channel, `${context.where}channel`);
      if (!channel.startsWith('presence-')) {
        throw new ApiError(400, ErrorCode.InvalidChannel, `${context.where}channel ${show(channel)} has no presence: only channels named presence-… keep who is in them`);
      }
      return { channel, members: await context.hub.presenceOf(channel) };
    },
  },
  channels: {
    fields: [],
    cost: () => 1,
    run: async (_input, context) => ({ channels: context.hub.channelList() }),
  },
  info: {
    fields: [],
    cost: () => 1,
    run: async (_input, context) => context.hub.info(),
  },
  disconnect: {
    fields: ['userId', 'reason'],
    cost: () => 1,
    async run(input, context) {
      const { userId, reason } = input;
      if (typeof userId !== 'string' || userId === '') throw badRequest(`${context.where}userId is required: a non-empty string`);
      if (reason !== undefined && typeof reason !== 'string') throw badRequest(`${context.where}reason must be a string, got ${show(reason)}`);
      await context.hub.disconnectUser(userId, ...(reason === undefined ? [] : [reason]));
      return { userId };
    },
  },
};

/** Runs one command: its fields checked, then its call; a failure becomes an ApiError. */
export async function runCommand(name: CommandName, input: Input, context: CommandContext): Promise<object> {
  checkFields(input, COMMANDS[name].fields, context.where);
  try {
    return await COMMANDS[name].run(input, context);
  } catch (error) {
    const failure = apiError(context.hub, error);
    // Failed publishes and disconnects are logged by the hub itself; reads are logged here.
    if (failure.status === 503 && (name === 'history' || name === 'presence')) {
      context.hub.reporter.report('warn', 'api_unavailable', `livehub: HTTP API ${name} failed: ${failure.message}`, error);
    }
    throw failure;
  }
}

/** The rate-limit cost of a command (a batch: the sum of its entries). */
export function commandCost(name: CommandName | 'batch', input: Input): number {
  if (name !== 'batch') return COMMANDS[name].cost(input);
  if (!Array.isArray(input.commands)) return 1;
  return Math.max(1, input.commands.reduce<number>((sum, c) => {
    const method = (c as Input | null)?.method;
    return sum + (typeof method === 'string' && method in COMMANDS ? COMMANDS[method as CommandName].cost(c as Input) : 1);
  }, 0));
}

/**
 * `POST /batch {commands: [{method, ...fields}, ...]}`: runs the commands one after another, in
 * order (so publishes to a channel keep their order), and answers each one's status and result or
 * error, in the same order. One failing does not stop the others.
 */
export async function runBatch(input: Input, context: CommandContext): Promise<object> {
  checkFields(input, ['commands'], '');
  const { commands } = input;
  const { maxBatch } = context;
  if (!Array.isArray(commands) || commands.length === 0) throw badRequest(`commands is required: an array of 1-${maxBatch} commands {method, ...}`);
  if (commands.length > maxBatch) throw badRequest(`commands has ${commands.length} entries; at most ${maxBatch} (maxBatch)`);
  const results: object[] = [];
  for (let i = 0; i < commands.length; i++) {
    const where = `commands[${i}].`;
    try {
      const command: unknown = commands[i];
      if (command === null || typeof command !== 'object' || Array.isArray(command)) throw badRequest(`commands[${i}] must be an object {method, ...}`);
      const { method, ...fields } = command as Input;
      if (typeof method !== 'string' || !(method in COMMANDS)) {
        throw badRequest(`${where}method must be one of ${Object.keys(COMMANDS).join(', ')}; got ${show(method)}`);
      }
      results.push({ status: 200, result: await runCommand(method as CommandName, fields, { ...context, where }) });
    } catch (error) {
      const failure = apiError(context.hub, error);
      results.push({ status: failure.status, ...failure.toJSON() });
    }
  }
  return { results };
}

/** Refuses a field the command does not know, naming the closest one it does (`chanel` → `channel`). */
export function checkFields(input: Input, known: readonly string[], where: string): void {
  for (const name of Object.keys(input)) {
    if (known.includes(name)) continue;
    const closest = closestOption(name, known);
    const hint = closest !== undefined ? `did you mean '${closest}'?`
      : known.length === 0 ? 'it takes none' : `the fields are ${known.map((k) => `'${k}'`).join(', ')}`;
    throw badRequest(`unknown field '${where}${name}'; ${hint}`);
  }
}

/** Publishes, idempotently when there is an id. */
function publishOne(hub: HttpApiHub, channel: string, type: string, data: unknown, id: string | undefined, exceptClient?: string): Promise<PublishResult> {
  return hub.publish(channel, type, data, {
    ...(id === undefined ? {} : { idempotencyKey: idempotencyKey(channel, id) }),
    ...(exceptClient === undefined ? {} : { exceptClient }),
  });
}

/**
 * The engine's idempotency key for an API publish id: one per channel and id (a broadcast with an id
 * publishes once to each of its channels), of a fixed length whatever the id and channel.
 */
export function idempotencyKey(channel: string, id: string): string {
  return `api:${createHash('sha256').update(channel).update('\0').update(id).digest('base64url')}`;
}

function position(result: PublishResult): object {
  return { offset: result.offset, epoch: result.epoch, ...(result.duplicate ? { duplicate: true } : {}) };
}

function channelField(value: unknown, name: string): string {
  const rule = `1-255 characters of ${NAME_CHARACTERS}, or "*" for every client`;
  if (value === undefined) throw new ApiError(400, ErrorCode.InvalidChannel, `${name} is required: ${rule}`);
  if (!isValidChannel(value)) throw new ApiError(400, ErrorCode.InvalidChannel, `${name} ${show(value)} is not a valid channel name: use ${rule}`);
  if (value.startsWith('#')) throw new ApiError(400, ErrorCode.InvalidChannel, `${name} ${show(value)} starts with "#": those channels are the hub's own`);
  return value;
}

function typeField(value: unknown, where: string): string {
  const rule = `1-255 characters of ${NAME_CHARACTERS}`;
  if (value === undefined) throw new ApiError(400, ErrorCode.InvalidType, `${where}type is required: ${rule}`);
  if (!isValidType(value)) throw new ApiError(400, ErrorCode.InvalidType, `${where}type ${show(value)} is not a valid message type: use ${rule}`);
  return value;
}

function idField(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw badRequest(`${where}id must be a string of 1-${MAX_ID_LENGTH} characters, got ${show(value)}`);
  }
  return value;
}

function badRequest(message: string): ApiError {
  return new ApiError(400, ErrorCode.BadRequest, message);
}

/** A value for an error message, cut short. */
function show(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The ApiError for any failure; one nobody expected is logged and answered as 500 without details. */
export function apiError(hub: HttpApiHub, error: unknown): ApiError {
  const known = fromHubError(error);
  if (known) return known;
  hub.reporter.error(error, 'api_failed', `livehub: an HTTP API request failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`);
  return new ApiError(500, ErrorCode.Internal, 'the request failed on the server; the error is logged there');
}
