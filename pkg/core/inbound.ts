import {
  BUILT_IN_COMMANDS, ErrorCode, isValidTags, NAME_CHARACTERS, isValidChannel, isValidType, isValidRequestId,
  withId, type ClientCommand, type PatternCommand, type RequestId,
} from '../protocol/index.js';
import { parsePatternCommand } from './pattern-command.js';

/** A command that failed validation, with the error frame to answer it with. */
export interface InboundError {
  error: { type: 'error'; code: ErrorCode; message: string; id?: RequestId };
}


function fail(code: ErrorCode, message: string, id?: RequestId): InboundError {
  return { error: id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id } };
}

function isPosition(value: unknown): value is { offset: number; epoch: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const { offset, epoch } = value as Record<string, unknown>;
  return Number.isSafeInteger(offset) && (offset as number) >= 0 &&
    typeof epoch === 'string' && epoch.length > 0 && epoch.length <= 64;
}

/** A message of one of the application's own types (see `hub.handle`): `{type, data, id}`. */
export interface AppCommand {
  app: true;
  type: string;
  data?: unknown;
  id?: RequestId;
}

/** Whether `type` names a built-in command (which `hub.handle` may not take). */
export function isBuiltIn(type: string): boolean {
  return BUILT_IN_COMMANDS.has(type);
}

/**
 * Parses one inbound text message into a command, or into the error frame that answers it.
 * Never throws. Only own properties are read, so `__proto__` and friends in the input change nothing.
 * A type that is not built-in is an application message when `handles(type)` says so.
 */
export function parseCommand(text: string, handles: (type: string) => boolean = () => false): ClientCommand | AppCommand | PatternCommand | InboundError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(ErrorCode.BadJson, 'message is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(ErrorCode.BadRequest, 'message must be a JSON object');
  }
  const message = value as Record<string, unknown>;
  const rawId = own(message, 'id');
  if (rawId !== undefined && !isValidRequestId(rawId)) {
    return fail(ErrorCode.BadRequest, 'id must be a non-empty string of at most 64 characters or a safe integer');
  }
  const id = rawId as RequestId | undefined;
  const type = own(message, 'type');
  if (typeof type !== 'string') return fail(ErrorCode.BadRequest, 'type must be a string', id);
  if (!BUILT_IN_COMMANDS.has(type)) {
    if (isValidType(type) && handles(type)) {
      const data = own(message, 'data');
      return id === undefined ? { app: true, type, data } : { app: true, type, data, id };
    }
    return fail(ErrorCode.UnknownType, `unknown message type ${JSON.stringify(type.slice(0, 64))}`, id);
  }

  if (type === 'ping') return withId({ type: 'ping' as const }, id);
  if ((type === 'subscribe' || type === 'unsubscribe') && own(message, 'pattern') !== undefined) return parsePatternCommand(message, type, id);
  if (type === 'unread') return withId({ type: 'unread' as const }, id);

  const channel = own(message, 'channel');
  if (!isValidChannel(channel)) {
    return fail(ErrorCode.InvalidChannel, `channel must be 1-255 characters of ${NAME_CHARACTERS}, or "*"`, id);
  }
  if (type === 'unsubscribe' || type === 'presence') return withId({ type, channel } as ClientCommand, id);
  if (type === 'acknowledge') {
    const position = { offset: own(message, 'offset'), epoch: own(message, 'epoch') };
    if (!isPosition(position)) return fail(ErrorCode.BadRequest, 'acknowledge needs offset (a whole number >= 0) and epoch (a string of 1-64 characters)', id);
    return withId({ type, channel, offset: position.offset, epoch: position.epoch }, id);
  }
  const exceptSelf = own(message, 'exceptSelf') === true;
  if (type === 'status') {
    const status = own(message, 'status');
    if (status !== 'online' && status !== 'away' && status !== 'busy') {
      return fail(ErrorCode.BadRequest, 'status must be "online", "away" or "busy"', id);
    }
    return withId({ type, channel, status }, id);
  }
  if (type === 'subscribe') {
    const since = own(message, 'since');
    const filter = own(message, 'filter');
    if (filter !== undefined && !isValidTags(filter)) {
      return fail(ErrorCode.BadRequest, 'filter must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters', id);
    }
    const filtered = filter === undefined ? {} : { filter: { ...filter } };
    if (since === undefined || since === null) return withId({ type, channel, ...filtered }, id);
    if (!isPosition(since)) return fail(ErrorCode.BadRequest, 'since must be {"offset": a whole number, "epoch": a string of 1-64 characters}', id);
    return withId({ type, channel, since: { offset: since.offset, epoch: since.epoch }, ...filtered }, id);
  }

  const event = own(message, 'event');
  if (!isValidType(event)) {
    return fail(ErrorCode.InvalidType, `event (the published message's type) must be 1-255 characters of ${NAME_CHARACTERS}`, id);
  }
  const tags = own(message, 'tags');
  if (tags !== undefined && !isValidTags(tags)) {
    return fail(ErrorCode.BadRequest, 'tags must be an object of at most 16 tags: keys of A-Z a-z 0-9 _ -, string values of at most 256 characters', id);
  }
  const publish: Extract<ClientCommand, { type: 'publish' }> = { type: 'publish', channel, event, data: own(message, 'data') };
  if (exceptSelf) publish.exceptSelf = true;
  if (tags !== undefined) publish.tags = { ...tags };
  if (id !== undefined) publish.id = id;
  return publish;
}

/** A property of the parsed message only if it is its own (never one inherited through `__proto__`). */
function own(message: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(message, key) ? message[key] : undefined;
}
