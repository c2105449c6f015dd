import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AuthError, type Identity } from './auth.js';
import { Admission } from './limits.js';
import { MAX_NAME_LENGTH, userChannel } from '../protocol/index.js';
import type { ResolvedHubOptions } from './options.js';
import type { Reporter } from './report.js';
import type { Admitted, Refusal } from './transport.js';
import { fileLimitMessage, fileLimitWarnAt, openFiles, openFilesLimit } from './file-limit.js';

/** Whether the request's Origin may connect. Requests without an Origin (non-browser) may. */
export function originAllowed(options: ResolvedHubOptions, request: IncomingMessage, reporter: Reporter): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  const { origins } = options;
  if (typeof origins === 'function') {
    try {
      return origins(origin, request) === true;
    } catch (error) {
      reporter.error(error, 'origins_failed', `livehub: the origins hook threw for ${origin}: ${(error as Error).message}; the origin was refused`);
      return false;
    }
  }
  if (origins) return origins.includes(origin);
  // Same origin: the Origin's host (with port) must be the Host the request was sent to.
  let host: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    host = url.host;
  } catch {
    return false; // "null", garbage
  }
  return host.toLowerCase() === (request.headers.host ?? '').toLowerCase();
}

/**
 * The gate every connection passes, whatever its transport: the origin check, connection caps (in
 * all, per IP as `clientIp` gives it, per user) and authentication. An admitted connection holds its
 * slot until its socket closes, whatever happens in between. Refusals are answered before anything
 * is set up, and each is logged where the app could fix it (a refused origin names the option).
 */
export class Gate {
  private readonly admission: Admission;
  private readonly fileLimit = openFilesLimit();
  /** Connections at which the open-files limit is near (file-limit.ts). */
  private readonly fileWarnAt: number;

  constructor(private readonly options: ResolvedHubOptions, readonly reporter: Reporter) {
    this.admission = new Admission(options);
    this.fileWarnAt = fileLimitWarnAt(this.fileLimit, options.maxConnections, this.fileLimit === null ? 0 : openFiles());
  }

  /** Connections currently admitted. */
  get connections(): number {
    return this.admission.connections;
  }

  /**
   * Admits `request` on `socket`: resolves with the identity (null: anonymous), or with a refusal.
   * Synchronous (no promise) when there is no `authenticate` hook, so the common upgrade stays in
   * one tick. `originChecked`: the caller has already checked (and answered) the Origin.
   */
  admit(request: IncomingMessage, socket: Duplex, originChecked = false): Admitted | Refusal | Promise<Admitted | Refusal> {
    if (!originChecked && !originAllowed(this.options, request, this.reporter)) {
      this.refusedOrigin(request);
      return { status: 403, code: 'origin_refused' };
    }
    const ip = this.clientIp(request);
    const refusal = this.admission.refuseIp(ip);
    if (refusal) return { status: refusal, code: 'refused', headers: { 'Retry-After': '5' } };
    this.admission.admit(socket, ip);
    if (this.admission.connections >= this.fileWarnAt) this.reporter.report('warn', 'file_limit', fileLimitMessage(this.admission.connections, this.fileLimit!));
    const { authenticate } = this.options;
    if (!authenticate) return { identity: null };
    let pending: Identity | null | Promise<Identity | null>;
    try {
      pending = authenticate(request);
    } catch (error) {
      return this.refuse(error);
    }
    return Promise.resolve(pending).then((identity) => {
      if (identity !== null && (typeof identity !== 'object' || typeof identity.userId !== 'string' || !identity.userId)) {
        this.reporter.error(new TypeError('livehub: authenticate must return an Identity with a userId, or null'), 'bad_identity');
        return { status: 500, code: 'internal' };
      }
      if (identity && userChannel(identity.userId).length > MAX_NAME_LENGTH) {
        this.reporter.report('error', 'bad_identity', `livehub: authenticate returned a user id of ${identity.userId.length} characters (${JSON.stringify(identity.userId.slice(0, 32))}…), too long for its personal channel (${MAX_NAME_LENGTH} characters of user:<id>, non-ASCII characters taking 3 to 12 each); the connection was refused (500): use a shorter id, such as the user's primary key`, undefined, 'bad_identity:too_long');
        return { status: 500, code: 'internal' };
      }
      if (identity && identity.expiresAt !== undefined && !Number.isFinite(identity.expiresAt)) {
        this.reporter.error(new TypeError(`livehub: an Identity's expiresAt must be milliseconds since the epoch (a finite number), got ${String(identity.expiresAt)}`), 'bad_identity');
        return { status: 500, code: 'internal' };
      }
      if (identity) {
        const refused = this.admission.refuseUser(identity.userId);
        if (refused) return { status: refused, code: 'refused' };
        this.admission.admitUser(socket, identity.userId);
      }
      return { identity };
    }, (error) => this.refuse(error));
  }

  /** The address a connection counts under for `maxConnectionsPerIp` (see the `clientIp` option). */
  private clientIp(request: IncomingMessage): string {
    const own = request.socket.remoteAddress ?? 'unknown';
    const { clientIp } = this.options;
    if (!clientIp) return own;
    try {
      const ip = clientIp(request);
      if (typeof ip === 'string' && ip) return ip;
      this.reporter.error(new TypeError('livehub: clientIp must return a non-empty string'), 'bad_client_ip');
    } catch (error) {
      this.reporter.error(error, 'client_ip_failed');
    }
    return own;
  }

  /** A refused credential: its status; never says why, and never echoes the token. */
  private refuse(error: unknown): Refusal {
    if (error instanceof AuthError) return { status: error.status, code: error.status === 401 ? 'unauthorized' : 'refused' };
    this.reporter.error(error, 'authenticate_failed', `livehub: authenticate threw (${error instanceof Error ? error.message : String(error)}); the connection was refused with 401`);
    return { status: 401, code: 'unauthorized' };
  }

  /** Logs a refused origin with the setting that would allow it. */
  refusedOrigin(request: IncomingMessage): void {
    const origin = String(request.headers.origin);
    this.reporter.report('warn', 'origin_refused',
      `livehub: refused a connection from origin ${origin} (host ${request.headers.host ?? 'none'}) with 403; ` +
      `if that page is yours, allow it: new Hub({ origins: [${JSON.stringify(origin)}] })`, undefined, `origin_refused:${origin}`);
  }
}
