import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { perTest } from '../helpers.js';

const { start, cleanup } = perTest();

describe("the client's offline queue", () => {
  it('says offline.queue.flushed with the count when what waited goes out on connect', async () => {
    const { url } = await start({ logger: false, canPublish: () => true });
    const client = new LiveClient(url, { WebSocket, autoConnect: false });
    cleanup(() => client.dispose());
    const flushed: number[] = [];
    client.events.on('offline.queue.flushed', (e) => flushed.push(e.count));
    const acks = [client.publish('news', 'item', 1), client.publish('news', 'item', 2)];
    client.connect();
    await Promise.all(acks);
    expect(flushed).toEqual([2]);
  });
});
