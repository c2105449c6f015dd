import { SUBPROTOCOL } from '../pkg/protocol/index.js';

/**
 * Which protocol the client speaks over WebSocket:
 * - `'livehub'`: livehub's full protocol (request ids, confirmations, recovery), negotiated with the
 *   `livehub.v1` subprotocol;
 * - `'plain'`: the protocol of the Go hub livehub began as: `{"type":"subscribe"|"unsubscribe","channel"}`
 *   frames with no id, messages `{channel, type, data}`, several to a frame separated by `\n`, no
 *   confirmations and no recovery; the hub's own WebSocket pings keep the connection alive.
 */
export type Dialect = 'livehub' | 'plain';

/** The `dialect` option: one of the two, or `'auto'` (livehub's, else plain when the server selects no subprotocol). */
export type DialectOption = Dialect | 'auto';

/**
 * Chooses the subprotocol offer of each WebSocket attempt. A browser refuses a connection whose
 * server selects none of the subprotocols offered, and says nothing about why; so in `'auto'` an
 * attempt that offered `livehub.v1` and failed before opening is followed by one that offers none
 * (at once when the failure says the server selected no subprotocol, as Node's `ws` does). A plain
 * connection to a hub that turns out to be livehub's (it answers the client's probe) makes the next
 * attempt offer it again.
 */
export class DialectChoice {
  private offer: boolean;
  /**
   * A plain connection's probe was answered: the hub is livehub's even when a connection comes up
   * without the subprotocol (a WebSocket class or proxy that drops it), so the next ones speak its
   * full protocol (ids, which it answers) without probing again.
   */
  private known = false;
  /** The dialect of the open connection (or of the last one); null before the first opened. */
  current: Dialect | null = null;

  constructor(readonly option: DialectOption) {
    this.offer = option !== 'plain';
  }

  /** Whether the next attempt offers the `livehub.v1` subprotocol. */
  offers(): boolean {
    return this.offer;
  }

  /** An attempt failed before it opened; `reason` is the error's message where the platform gives one. */
  failedBeforeOpen(offered: boolean, reason: string | undefined): void {
    if (this.option !== 'auto') return;
    if (offered && reason !== undefined && /no subprotocol/i.test(reason)) {
      this.offer = false;
      this.known = false;
    } else this.offer = !offered;
  }

  /** A connection opened with the subprotocol the server selected (`''` or undefined: none). */
  opened(protocol: string | undefined): Dialect {
    this.current = protocol === SUBPROTOCOL || (this.known && this.option === 'auto') ? 'livehub' : 'plain';
    if (this.current === 'livehub') this.offer = true;
    return this.current;
  }

  /** Whether a plain connection should probe for a livehub hub behind it. */
  probes(): boolean {
    return this.option === 'auto' && this.current === 'plain';
  }

  /** A plain connection's probe was answered: the hub speaks livehub's protocol; offer it next time. */
  livehubAnswered(): void {
    this.offer = true;
    this.known = true;
  }
}

const choices = new WeakMap<object, DialectChoice>();

/** The dialect choice of one client, kept by its resolved options object. */
export function dialectOf(owner: object, option: DialectOption): DialectChoice {
  let choice = choices.get(owner);
  if (!choice) choices.set(owner, choice = new DialectChoice(option));
  return choice;
}
