// @vitest-environment node
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';
import { LivehubProvider, useChannel, useConnectionState, useLiveUpdate, usePresence, useRealtime } from '../../client/react/index.js';
import { perTest } from '../helpers.js';

const { start } = perTest();

/** Counts reads of the global `window` (and `document`) while a server render runs. */
function trapGlobals() {
  const touched: string[] = [];
  for (const name of ['window', 'document'] as const) {
    Object.defineProperty(globalThis, name, { configurable: true, get: () => { touched.push(name); return undefined; } });
  }
  return {
    touched,
    restore: () => { for (const name of ['window', 'document']) delete (globalThis as Record<string, unknown>)[name]; },
  };
}

let restore = () => {};
afterEach(() => restore());

function Page() {
  const state = useConnectionState();
  const { members, count } = usePresence('presence-room');
  const { events, connected: isConnected } = useRealtime({ channel: 'feed', types: ['item'] });
  const live = useLiveUpdate();
  useChannel('chat', () => {});
  return createElement('p', null, `${state.status} ${live.status} ${String(isConnected)} ${count} ${members.length} ${events.length}`);
}

describe('livehub/react on a server', () => {
  it('renders with every hook, constructs no client, opens no connection and touches no window', async () => {
    const s = await start({ authorize: () => true });
    const trap = trapGlobals();
    restore = trap.restore;
    const html = renderToString(createElement(LivehubProvider, { url: s.url }, createElement(Page)));
    trap.restore();
    expect(html).toBe('<p>idle idle false 0 0 0</p>');
    expect(trap.touched).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hub.info().clients).toBe(0);
  });
});
