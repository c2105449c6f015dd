/**
 * livehub/trpc's transport endpoint: added to a hub once (`hub.addTransport`), it holds the hub's
 * transport API, through which the procedures publish and authorize as a connection and each
 * subscription opens its session.
 */
import type { Hub } from '../hub.js';
import type { Identity, PublishAs, RequestInfo, TransportEndpoint, TransportHost } from '../transport/index.js';

/** Who calls a procedure, as the hub's channel policy sees a connection. */
export interface Caller {
  identity: Identity | null;
  request: RequestInfo;
  /** The call's id (`<node>-trpc<n>`), or the caller's own connection it publishes as. */
  clientId: PublishAs['clientId'];
}

class TrpcEndpoint implements TransportEndpoint {
  readonly name = 'trpc';
  #host: TransportHost | null = null;
  #calls = 0;

  start(host: TransportHost): void {
    this.#host = host;
  }

  stop(): void {}

  get host(): TransportHost {
    if (!this.#host) throw new TypeError('livehub: the trpc transport has not started');
    return this.#host;
  }

  /** An id for one call that is no connection's: a message it publishes is stamped from it. */
  callId(): string {
    return `${this.host.node}-trpc${++this.#calls}`;
  }
}

const endpoints = new WeakMap<Hub, TrpcEndpoint>();

/** The hub's trpc endpoint, added on first use: every router built for the hub shares it. */
export function endpointOf(hub: Hub): TrpcEndpoint {
  let endpoint = endpoints.get(hub);
  if (!endpoint) {
    if (hub === null || typeof hub !== 'object' || typeof hub.addTransport !== 'function') throw new TypeError('livehub: realtimeRouter(hub, t, options) needs a Hub as hub');
    endpoint = new TrpcEndpoint();
    hub.addTransport(endpoint);
    endpoints.set(hub, endpoint);
  }
  return endpoint;
}
