import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { createChatServer, type ChatServerOptions } from '../../examples/chat/server.js';
import type { PublishOptions, PublishResult } from '../../pkg/engine/engine.js';
import { MemoryEngine, type HistoryPolicy } from '../../pkg/engine/index.js';
import { closeServer } from '../helpers.js';

/** Example chat servers on port 0, stopped after each test. */
export function chatServers() {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const stop of stops.splice(0).reverse()) await stop(); });
  return {
    async start(options: ChatServerOptions = {}) {
      const chat = createChatServer(options);
      await new Promise<void>((resolve) => chat.server.listen(0, '127.0.0.1', resolve));
      const port = (chat.server.address() as AddressInfo).port;
      let stopped: Promise<void> | null = null;
      /** Stops this server (as a restart or a crash would end it); once, whoever asks first. */
      const stop = () => (stopped ??= (async () => { await chat.close(); await closeServer(chat.server); })());
      stops.push(stop);
      return { ...chat, port, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws`, stop };
    },
    cleanup(stop: () => Promise<void>) {
      stops.push(stop);
    },
  };
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** The props of the Inertia page the server rendered into `GET /` (a first, non-Inertia visit). */
export async function pageProps(base: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const text = await (await fetch(`${base}/`, { headers })).text();
  const match = /<script data-page="app" type="application\/json">([\s\S]*?)<\/script>/.exec(text);
  if (!match) throw new Error(`no page object in ${text.slice(0, 300)}`);
  return (JSON.parse(match[1]!) as { props: Record<string, unknown> }).props;
}

/** A memory engine whose publishes (to `only`, or to every channel but the hub's own) fail while `failing` is set, as a Redis that is down. */
export class FailingEngine extends MemoryEngine {
  failing = false;
  constructor(private readonly only?: string) {
    super();
  }

  override publish(channel: string, type: string, dataJson: string, policy: HistoryPolicy, options?: PublishOptions): PublishResult {
    const affected = this.only === undefined ? !channel.startsWith('#') : channel === this.only;
    if (this.failing && affected) throw Object.assign(new Error('Redis at 127.0.0.1:1 is down'), { code: 'unavailable' });
    return super.publish(channel, type, dataJson, policy, options);
  }
}
