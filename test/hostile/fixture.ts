import type { ServerOptions } from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'vitest';
import type { HubOptions } from '../../pkg/index.js';
import { Peer, startHub } from '../helpers.js';
import { until } from './raw.js';

v8.setFlagsFromString('--expose_gc');
/** A real garbage collection, for heap checks against a baseline. */
export const gc: () => void = vm.runInNewContext('gc');

/**
 * A hub on a real server with a canary: a well-behaved client subscribed to a busy channel that the
 * test publishes to every few milliseconds. `finish()` checks that the canary got every message, in
 * order, and that the hub is still serving.
 */
export async function hostileHub(
  options: HubOptions = {},
  setup: { server?: ServerOptions; canaryQuery?: string } = {},
) {
  const { hub, server, port, url, stop } = await startHub(options, { server: setup.server });
  const trusted = setup.canaryQuery ? `${url}?${setup.canaryQuery}` : url;
  const canary = await Peer.open(trusted);
  await canary.subscribe('busy');
  let sent = 0;
  const timer = setInterval(() => hub.publish('busy', 'tick', sent++), 5);

  return {
    hub, server, port, url,
    async finish(): Promise<void> {
      clearInterval(timer);
      const total = sent;
      await until(() => canary.messages.filter((m) => m.channel === 'busy').length >= total, 10_000);
      const seen = canary.messages.filter((m) => m.channel === 'busy').map((m) => m.data);
      expect(seen).toEqual([...Array(total).keys()]);
      expect(canary.closed).toBeNull();
      // Still serving: a new client connects and is answered.
      const late = await Peer.open(trusted);
      late.send({ type: 'ping', id: 'alive' });
      expect(await late.next((m) => m.type === 'pong')).toEqual({ type: 'pong', id: 'alive' });
      late.close();
      canary.close();
      await stop();
    },
  };
}
