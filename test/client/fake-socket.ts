import { expect } from 'vitest';
import { LiveClient, type LiveClientOptions } from '../../client/index.js';

/** A WebSocket the test drives: it plays the server's side. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  /** The subprotocol the "server" chose ('' until `accept`). */
  protocol = '';
  sent: any[] = [];
  closedWith: number | null = null;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(readonly url: string, readonly protocols?: string | string[]) { FakeSocket.all.push(this); }
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close(code = 1000) { this.closedWith = code; this.readyState = 3; }
  /**
   * Completes the handshake; `protocol` is the subprotocol the server selects: by default the one the
   * client offered (a livehub hub), `''` for a hub that selects none (the plain protocol).
   */
  accept(protocol = this.offered()) { this.protocol = protocol; this.readyState = 1; this.onopen?.({}); }
  /** The livehub subprotocol when the client offered it, else ''. */
  offered(): string {
    const offers = typeof this.protocols === 'string' ? [this.protocols] : this.protocols ?? [];
    return offers.includes('livehub.v1') ? 'livehub.v1' : '';
  }
  deliver(message: unknown) { this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  static last() { return FakeSocket.all[FakeSocket.all.length - 1]!; }
  /** The frames of one type sent on this socket. */
  frames(type: string) { return this.sent.filter((m) => m.type === type); }
}

/** The EventSource twin of FakeSocket: the test plays the server's stream (the SSE transport's fake). */
export class FakeEventSource {
  static all: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  onmessage: ((event: { data: string; lastEventId: string }) => void) | null = null;
  onerror: ((event: { code?: number; message?: string }) => void) | null = null;
  private lastEventId = '';
  constructor(readonly url: string) { FakeEventSource.all.push(this); }
  close() { this.closed = true; this.readyState = 2; }
  /** One event; `id` sets the id the EventSource sends back when it reconnects. */
  emit(data: object, id?: string) {
    if (id !== undefined) this.lastEventId = id;
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(data), lastEventId: this.lastEventId });
  }
  /** The stream fails; `gaveUp`: the EventSource does not reconnect by itself (an HTTP error). */
  fail(gaveUp = false, code?: number) {
    this.readyState = gaveUp ? 2 : 0;
    this.onerror?.({ code });
  }
  static last() { return FakeEventSource.all[FakeEventSource.all.length - 1]!; }
}

export function fakeClient(options: LiveClientOptions = {}) {
  return new LiveClient('ws://hub.test/ws', { WebSocket: FakeSocket, random: () => 0.5, ...options });
}

/** A subscribe frame as the client sends it: with a request id, and `since` when resuming. */
export function subscribeFrame(channel: string, since?: { offset: number; epoch: string }) {
  return { type: 'subscribe', channel, id: expect.any(String), ...(since ? { since } : {}) };
}
