/**
 * HTTP answers and request bodies, the same for every HTTP endpoint of the hub (the HTTP API, the SSE
 * endpoint's commands): JSON answers `{"error":{"code","message"}}` with a real status, and bodies
 * read under a size cap that stops reading at the cap and closes the connection after the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../protocol/index.js';

/** A refusal: its HTTP status, code, message, and any headers it needs (`Allow`, `Retry-After`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Writes a JSON answer, unless the response was already sent (then it does nothing). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** Writes an ApiError as its status, headers and JSON body; with `req`, closes a connection whose body was not read. */
export function sendError(res: ServerResponse, error: ApiError, req?: IncomingMessage): void {
  // Answering before the body was read: the rest of it is not read, and the connection closes.
  if (req && hasBody(req) && !req.readableEnded && !res.headersSent) res.setHeader('Connection', 'close');
  sendJson(res, error.status, error.toJSON(), error.headers);
}

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

/**
 * Reads at most `limit` bytes of a request body; past that it stops reading and throws a 413 (the
 * answer then carries `Connection: close`, see `sendError`, so the rest is never read).
 */
export function readBody(req: IncomingMessage, limit: number, setting?: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit, setting, `the request declares ${declared} bytes`));
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
      if (size > limit) done(tooLarge(limit, setting, 'the body is longer'));
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

function tooLarge(limit: number, setting: string | undefined, detail: string): ApiError {
  return new ApiError(413, ErrorCode.TooLarge, `the request body may be at most ${limit} bytes${setting ? ` (${setting})` : ''}; ${detail}`);
}
