import type { MessageContext } from '../index.js';
import { checkKnownOptions } from '../options-check.js';
import { resolveIce, type IceServer, type ResolvedIce, type TurnOptions } from './ice.js';

/** Who may join a room: true lets the connection in. */
export type AuthorizeRoom = (room: string, context: MessageContext) => boolean | Promise<boolean>;

/** The options of `webrtcSignalling(hub, options)`. */
export interface WebrtcSignallingOptions {
  /**
   * Who may join which room. A member learns the others' connection ids and gets their offers, which
   * carry network addresses, so the default lets only signed-in connections (an `authenticate`
   * identity) join; pass `() => true` for anonymous calls.
   */
  authorize?: AuthorizeRoom;
  /** Peers a room holds, checked at each join (a mesh call sends every stream to every peer). @default 8 */
  maxPeers?: number;
  /** Bytes of a signal's `data` as JSON (an offer's SDP is a few kilobytes). Larger: `too_large`. @default 32768 */
  maxSignalBytes?: number;
  /** Signals a second each connection may send, on average. Beyond: `rate_limited`. @default 50 */
  signalRate?: number;
  /** Signals a connection may send at once before `signalRate` applies (a burst of ICE candidates). @default 200 */
  signalBurst?: number;
  /** ICE servers every peer gets (STUN; TURN with fixed passwords). @default [] */
  iceServers?: IceServer[];
  /** TURN with a credential issued to each signed-in user (coturn's `use-auth-secret`). */
  turn?: TurnOptions;
}

export interface ResolvedSignallingOptions {
  authorize: AuthorizeRoom;
  maxPeers: number;
  maxSignalBytes: number;
  signalRate: number;
  signalBurst: number;
  ice: ResolvedIce;
}

export const SIGNALLING_DEFAULTS = { maxPeers: 8, maxSignalBytes: 32 * 1024, signalRate: 50, signalBurst: 200 } as const;

const KNOWN = ['authorize', 'maxPeers', 'maxSignalBytes', 'signalRate', 'signalBurst', 'iceServers', 'turn'];

function positive(options: WebrtcSignallingOptions, key: keyof typeof SIGNALLING_DEFAULTS): number {
  const value = options[key] ?? SIGNALLING_DEFAULTS[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`livehub: webrtcSignalling() option '${key}' must be a positive whole number, got ${String(value)}`);
  }
  return value;
}

/** The options with their defaults; a TypeError for an unknown option or a bad value. */
export function resolveSignallingOptions(options: WebrtcSignallingOptions = {}): ResolvedSignallingOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: webrtcSignalling() options must be an object');
  checkKnownOptions(options, KNOWN, 'webrtcSignalling()');
  const { authorize = (_room: string, context: MessageContext) => context.identity !== null } = options;
  if (typeof authorize !== 'function') throw new TypeError('livehub: webrtcSignalling() option \'authorize\' must be a function (room, context) => boolean');
  return {
    authorize,
    maxPeers: positive(options, 'maxPeers'),
    maxSignalBytes: positive(options, 'maxSignalBytes'),
    signalRate: positive(options, 'signalRate'),
    signalBurst: positive(options, 'signalBurst'),
    ice: resolveIce(options.iceServers ?? [], options.turn),
  };
}
