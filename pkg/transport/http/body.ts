/**
 * Reading a command's JSON body: the Content-Type checked before a byte is read (415), the size
 * capped while reading (413, and reading stops at the cap: the rest is never read and the
 * connection is closed after the answer), UTF-8 and JSON checked (400), and nesting and key count
 * scanned before `JSON.parse` builds anything (400). A body an Express parser (`express.json()`)
 * already read is taken as it parsed it.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, scanJson } from '../../protocol/index.js';
import { ApiError, isJson, readBody } from '../http-io.js';

export { hasBody } from '../http-io.js';

/** The limits a body is read under. */
export interface BodyLimits {
  maxBodySize: number;
  maxJsonDepth: number;
  maxJsonKeys: number;
}

/** A request body as an Express body parser leaves it (`req.body`). */
type ParsedRequest = IncomingMessage & { body?: unknown };



/** The body of a POST as a JSON object, or an ApiError (415, 413, 400) saying what is wrong. */
export async function readJsonObject(req: IncomingMessage, limits: BodyLimits): Promise<Record<string, unknown>> {
  if (!isJson(req)) {
    const got = req.headers['content-type'];
    throw new ApiError(415, ErrorCode.UnsupportedMediaType,
      `send the body as JSON with Content-Type: application/json${got ? `; got ${JSON.stringify(got.slice(0, 100))}` : ' (the request had no Content-Type)'}`);
  }
  const parsed = (req as ParsedRequest).body;
  if (req.readableEnded) {
    // Read already, by a body parser mounted before the API (express.json()).
    if (parsed === undefined) {
      throw new Error('the request body was read by middleware mounted before the API, which left no req.body; mount the API before it');
    }
    if (typeof parsed === 'string' || Buffer.isBuffer(parsed)) return parseObject(decode(Buffer.from(parsed)), limits);
    return checkObject(parsed);
  }
  return parseObject(decode(await readBody(req, limits.maxBodySize, 'maxBodySize')), limits);
}



const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError(400, ErrorCode.BadJson, 'the body is not valid UTF-8');
  }
}

function parseObject(text: string, limits: BodyLimits): Record<string, unknown> {
  if (text.trim() === '') throw new ApiError(400, ErrorCode.BadJson, 'the body is empty: send a JSON object');
  const shape = scanJson(text, limits.maxJsonDepth, limits.maxJsonKeys);
  if (shape === 'too_deep') throw new ApiError(400, ErrorCode.TooDeep, `the body nests deeper than ${limits.maxJsonDepth} levels`);
  if (shape === 'too_many_keys') throw new ApiError(400, ErrorCode.TooManyKeys, `the body has more than ${limits.maxJsonKeys} object keys`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, ErrorCode.BadJson, `the body is not valid JSON: ${(error as Error).message}`);
  }
  return checkObject(value);
}

function checkObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new ApiError(400, ErrorCode.BadRequest, `the body must be a JSON object, got ${kind}`);
  }
  return value as Record<string, unknown>;
}
