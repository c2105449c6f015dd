/**
 * Reading a command's JSON body: the Content-Type checked before a byte is read (415), the size
 * capped while reading (413, and reading stops at the cap: the rest is never read and the
 * connection is closed after the answer), UTF-8 and JSON checked (400), and nesting and key count
 * scanned before `JSON.parse` builds anything (400). A body an Express parser (`express.json()`)
 * already read is taken as it parsed it.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, scanJson } from '../../protocol/index.js';
import { ApiError } from './errors.js';

/** The limits a body is read under. */
export interface BodyLimits {
  maxBodySize: number;
  maxJsonDepth: number;
  maxJsonKeys: number;
}

/** A request body as an Express body parser leaves it (`req.body`). */
type ParsedRequest = IncomingMessage & { body?: unknown };

/** Whether the request declares a body (a Content-Length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether the Content-Type is JSON: `application/json` or `application/<x>+json`, any parameters. */
export function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return type !== undefined && /^application\/([\w.-]+\+)?json$/.test(type);
}

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
  return parseObject(decode(await readCapped(req, limits.maxBodySize)), limits);
}

/** Reads at most `limit` bytes; past that, stops reading and throws a 413. */
function readCapped(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit, `the request declares ${declared} bytes`));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(tooLarge(limit, 'the body is longer'));
      else chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onError = (error: Error) => done(new ApiError(400, ErrorCode.BadRequest, `the request body could not be read: ${error.message}`));
    const onClose = () => done(new ApiError(400, ErrorCode.BadRequest, 'the connection closed before the request body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number, detail: string): ApiError {
  return new ApiError(413, ErrorCode.TooLarge, `the request body may be at most ${limit} bytes (maxBodySize); ${detail}`);
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
