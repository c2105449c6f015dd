import type { IncomingMessage } from 'node:http';
import type { HubCore } from './core.js';
import { originAllowed } from './gate.js';
import { keptRequestInfo, requestInfo } from './policy.js';
import type { TransportHost } from './transport.js';

/** The transport API a hub's core gives every transport endpoint, built-in or an app's. */
export function transportHost(core: HubCore): TransportHost {
  return {
    get options() { return core.options; },
    get reporter() { return core.reporter; },
    get node() { return core.node; },
    get closing() { return core.draining; },
    admit: (request, socket, options) => core.gate.admit(request, socket, options?.originChecked === true),
    originAllowed: (request: IncomingMessage) => originAllowed(core.options, request, core.reporter),
    refusedOrigin: (request: IncomingMessage) => core.gate.refusedOrigin(request),
    requestInfo: (request, options) => {
      const { keepHeaders } = core.options;
      // A request that lives as long as its session (an SSE stream) is not copied when every header is kept.
      return options?.live === true && keepHeaders === null ? requestInfo(request) : keptRequestInfo(request, keepHeaders);
    },
    open: (transport, request, identity, options) => core.open(transport, request, identity, options?.fullProtocol ?? true),
    sendToNode: (node, topic, data) => core.sendToNode(node, topic, data),
    onNodeMessage: (topic, handler) => core.onNodeMessage(topic, handler),
  };
}
