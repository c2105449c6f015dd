import { describe, expect, it } from 'vitest';
import { Peer, perTest } from '../helpers.js';

const { start, cleanup } = perTest();

/**
 * The Go original's Vue client, as it handles frames: every frame with a `channel` key is a message,
 * and its handler gets `message.data`. A page written like the original's chat reads `data.id`.
 */
function originalClient(peer: Peer) {
  const handled: Array<{ channel: string; data: any }> = [];
  const crashes: string[] = [];
  return {
    handled,
    crashes,
    drain() {
      for (const message of peer.messages.splice(0)) {
        if (!('channel' in message)) continue;
        handled.push({ channel: message.channel, data: message.data });
        try {
          void message.data.id; // what the original's chat page does with every message
        } catch (error) {
          crashes.push(`${(error as Error).message} in ${JSON.stringify(message)}`);
        }
      }
    },
  };
}

describe("the Go original's clients", () => {
  it('get only real {channel, type, data} messages on frames that carry a channel, whatever they send', async () => {
    const { hub, url } = await start();
    const go = await Peer.open(url, { protocols: [] });
    cleanup(() => go.close());
    const client = originalClient(go);
    go.send('{"type":"subscribe","channel":"chat"}');
    go.send('{"type":"subscribe","channel":"chat"}'); // twice: no "already subscribed" frame with a channel
    go.send('{"type":"subscribe","channel":"private-secrets"}'); // refused: the error must not look like a message
    go.send('{"type":"subscribe","channel":"bad channel"}');
    go.send('{"type":"unsubscribe","channel":"elsewhere"}');
    go.send('{"type":"subscribe","channel":"notifications"}');
    await go.sync(); // answered after every request above
    await hub.publish('chat', 'message', { id: 1, text: 'hi' });
    await hub.broadcast({ channel: 'notifications', type: 'alert', data: { id: 2 } });
    await hub.publish('*', 'announcement', { id: 3 });
    await expect.poll(() => { client.drain(); return client.handled.length; }).toBe(3);
    await go.sync(); // anything the hub sent after the three arrived before this
    client.drain();
    expect(client.crashes).toEqual([]);
    expect(client.handled).toEqual([
      { channel: 'chat', data: { id: 1, text: 'hi' } },
      { channel: 'notifications', data: { id: 2 } },
      { channel: '*', data: { id: 3 } },
    ]);
  });

  it('still hear why a request failed: the error frame names the channel in its text, without a channel key', async () => {
    const { url } = await start();
    const go = await Peer.open(url, { protocols: [] });
    cleanup(() => go.close());
    go.send('{"type":"subscribe","channel":"private-secrets"}');
    const error = await go.next((m) => m.type === 'error');
    expect(error).toEqual({ type: 'error', code: 'forbidden', message: expect.stringContaining('private-secrets') });
  });

  it('get the full protocol back when a request carries an id', async () => {
    const { url } = await start();
    const go = await Peer.open(url, { protocols: [] });
    cleanup(() => go.close());
    go.send({ type: 'subscribe', channel: 'chat', id: 7 });
    expect(await go.next((m) => m.id === 7)).toMatchObject({ type: 'subscribed', channel: 'chat', id: 7, offset: 0 });
  });

  it("livehub's own clients (subprotocol livehub.v1) get confirmations without ids", async () => {
    const { url } = await start();
    const own = await Peer.open(url);
    cleanup(() => own.close());
    expect(own.ws.protocol).toBe('livehub.v1');
    own.send({ type: 'subscribe', channel: 'chat' });
    expect(await own.next((m) => m.type === 'subscribed')).toMatchObject({ type: 'subscribed', channel: 'chat' });
    own.send({ type: 'subscribe', channel: 'private-x' });
    expect(await own.next((m) => m.type === 'error')).toMatchObject({ code: 'forbidden', channel: 'private-x' });
  });
});
