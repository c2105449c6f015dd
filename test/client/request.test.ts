import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient, type DirectMessage, type LiveClientOptions } from '../../client/index.js';
import { HandlerError, type HubOptions } from '../../pkg/index.js';
import { Peer, perTest, serverSessions } from '../helpers.js';

const { cleanup, start } = perTest();

/** A hub with WebSocket at /ws and SSE at /events, and handlers that answer, fail, stall and push. */
async function handlerHub(options: HubOptions = {}) {
  const { hub, url } = await start({ logger: false, canPublish: () => true, handlerTimeout: 300, eventSourceRetry: 20, ...options }, { attach: { path: '/ws', eventsPath: '/events' } });
  const sent: unknown[] = [];
  hub.handle('add', (message) => {
    const { a, b } = message.data as { a: number; b: number };
    return a + b;
  });
  hub.handle('refuse', (_message, _context, kit) => kit.fail('not_allowed', 'you may not'));
  hub.handle('throws-code', () => { throw new HandlerError('out_of_stock', 'none left'); });
  hub.handle('stall', () => new Promise(() => {}));
  hub.handle('slow', () => new Promise((resolve) => setTimeout(() => resolve('late'), 200)));
  hub.handle('note', (message) => { sent.push(message.data); });
  hub.handle('poke', (message, _context, kit) => { kit.send('notice', { about: message.data }); kit.send('other', 1); return 'poked'; });
  return { hub, sent, url };
}

for (const transport of ['websocket', 'sse'] as const) {
  const open = async (url: string, options: LiveClientOptions = {}) => {
    const client = new LiveClient(url, { transport, WebSocket, EventSource, reconnect: { delay: 20 }, ...options });
    cleanup(() => client.dispose());
    await expect.poll(() => client.status).toBe('open');
    expect(client.transport).toBe(transport);
    return client;
  };

  describe(`client.request and client.send over ${transport}`, () => {
    it('resolves a request with the data of the handler\'s reply', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      await expect(client.request('add', { a: 2, b: 3 })).resolves.toBe(5);
      const many = await Promise.all([...Array(20).keys()].map((n) => client.request<number>('add', { a: n, b: 1 })));
      expect(many).toEqual([...Array(20).keys()].map((n) => n + 1));
    });

    it('rejects with the code of the server\'s error: the app\'s (fail, thrown), unknown_type, and timeout from handlerTimeout', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      await expect(client.request('refuse')).rejects.toMatchObject({ name: 'LiveError', code: 'not_allowed', message: 'you may not' });
      await expect(client.request('throws-code')).rejects.toMatchObject({ code: 'out_of_stock', message: 'none left' });
      await expect(client.request('nobody-handles-this')).rejects.toMatchObject({ code: 'unknown_type' });
      await expect(client.request('stall')).rejects.toMatchObject({ code: 'timeout' });
    });

    it('rejects with timeout when no reply comes within the request\'s own timeout, and the late reply harms nothing', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      const errors: Error[] = [];
      client.events.on('error', (error) => errors.push(error));
      await expect(client.request('slow', null, { timeout: 50 })).rejects.toMatchObject({ code: 'timeout', message: expect.stringContaining('"slow"') });
      // A sentinel: the second slow request's reply comes after the first one's late reply.
      await expect(client.request('slow', null, { timeout: 2000 })).resolves.toBe('late');
      expect(errors).toEqual([]);
    });

    it('rejects a request made while not connected with not_connected, and with queue: true sends it on open', async () => {
      const s = await handlerHub();
      const client = new LiveClient(s.url, { transport, WebSocket, EventSource, autoConnect: false });
      cleanup(() => client.dispose());
      await expect(client.request('add', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'not_connected', message: expect.stringContaining('queue: true') });
      expect(client.send('note', 'dropped')).toBe(false);
      const queued = client.request('add', { a: 1, b: 2 }, { queue: true });
      expect(client.send('note', 'queued', { queue: true })).toBe(true);
      client.connect();
      await expect(queued).resolves.toBe(3);
      await expect.poll(() => s.sent).toEqual(['queued']);
    });

    it('rejects a request in flight with connection_lost when the connection drops, and never sends it twice', async () => {
      const s = await handlerHub();
      let runs = 0;
      s.hub.handle('count', () => { runs++; return new Promise(() => {}); });
      const client = await open(s.url);
      const pending = client.request('count', null, { timeout: 5000 });
      await expect.poll(() => runs).toBe(1);
      for (const session of serverSessions(s.hub)) session.terminate();
      await expect(pending).rejects.toMatchObject({ code: 'connection_lost' });
      await expect.poll(() => client.status).toBe('open');
      // A sentinel: a request sent after the reconnect is answered after anything resent on it.
      await expect(client.request('add', { a: 1, b: 2 })).resolves.toBe(3);
      expect(runs).toBe(1);
    });

    it('delivers send() to the handler with no reply, in order', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      for (let i = 0; i < 5; i++) expect(client.send('note', i)).toBe(true);
      await expect.poll(() => s.sent).toEqual([0, 1, 2, 3, 4]);
    });

    it('hands direct messages to direct.on handlers by type and to \'*\', and emits direct', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      const notices: unknown[] = [];
      const every: string[] = [];
      const events: DirectMessage[] = [];
      const stop = client.direct.on('notice', (data) => notices.push(data));
      client.direct.on('*', (_data, message) => every.push(message.type));
      client.events.on('direct', (message) => events.push(message));
      const replies: string[] = [];
      client.events.on('reply', (reply) => replies.push(reply.type));
      await expect(client.request('poke', 'x')).resolves.toBe('poked');
      await expect.poll(() => every).toEqual(['notice', 'other']);
      expect(notices).toEqual([{ about: 'x' }]);
      expect(events).toEqual([{ type: 'notice', data: { about: 'x' } }, { type: 'other', data: 1 }]);
      expect(replies).toEqual(['reply']);
      stop();
      await client.request('poke', 'y');
      await expect.poll(() => every).toHaveLength(4);
      expect(notices).toEqual([{ about: 'x' }]);
    });

    it('publishes with exceptSelf: everyone else gets it, the sender does not', async () => {
      const s = await handlerHub();
      const client = await open(s.url);
      const mine: unknown[] = [];
      client.on('room', (data) => mine.push(data));
      const peer = await Peer.open(s.url);
      cleanup(() => peer.close());
      await peer.subscribe('room');
      await expect.poll(() => s.hub.info().channels).toBe(1);
      await client.publish('room', 'typing', 'not to me', { exceptSelf: true });
      await client.publish('room', 'said', 'to all');
      expect((await peer.next((m) => m.channel === 'room')).data).toBe('not to me');
      expect((await peer.next((m) => m.channel === 'room')).data).toBe('to all');
      await expect.poll(() => mine).toEqual(['to all']);
    });
  });
}

describe('client.request, send, direct.on and publish: bad input', () => {
  it('throws a TypeError for a bad or built-in type, data that is not JSON, and unknown options', () => {
    const client = new LiveClient('ws://127.0.0.1:1/ws', { autoConnect: false });
    cleanup(() => client.dispose());
    expect(() => client.request('')).toThrow(TypeError);
    expect(() => client.request('has space')).toThrow(/message type/);
    expect(() => client.request('subscribe')).toThrow(/built-in command/);
    expect(() => client.send('publish')).toThrow(/built-in command/);
    expect(() => client.request('ok', 10n)).toThrow(/cannot be sent as JSON/);
    expect(() => client.request('ok', null, { timout: 5 } as never)).toThrow(/unknown option 'timout'.*'timeout'/);
    expect(() => client.request('ok', null, { timeout: 0 })).toThrow(/timeout must be a positive number/);
    expect(() => client.send('ok', null, { queued: true } as never)).toThrow(/unknown option 'queued'/);
    expect(() => client.publish('room', 'said', 1, { exceptself: true } as never)).toThrow(/unknown option 'exceptself'.*'exceptSelf'/);
    expect(() => client.direct.on('bad type', () => {})).toThrow(TypeError);
    expect(() => client.direct.on('ok', 'nope' as never)).toThrow(/handler function/);
  });
});
