import { describe, expect, it } from 'vitest';
import { perTest } from '../helpers.js';

const { hub: newHub } = perTest();

describe('hub.history', () => {
  it('returns the newest publications, oldest first, with the channel\'s position', async () => {
    const hub = newHub({ logger: false });
    for (let i = 1; i <= 5; i++) await hub.publish('news', 'item', i);
    const { position, messages, complete } = await hub.history('news', { limit: 2 });
    expect(complete).toBe(true);
    expect(position.offset).toBe(5);
    expect(messages.map((m) => [m.offset, m.data])).toEqual([[4, 4], [5, 5]]);
  });

  it('with since, returns the first limit publications after that position', async () => {
    const hub = newHub({ logger: false });
    for (let i = 1; i <= 5; i++) await hub.publish('news', 'item', i);
    const { epoch } = await hub.position('news');
    const after = await hub.history('news', { since: { offset: 1, epoch }, limit: 2 });
    expect(after).toMatchObject({ complete: true, position: { offset: 5, epoch } });
    expect(after.messages.map((m) => m.data)).toEqual([2, 3]);
    expect((await hub.history('news', { since: { offset: 3, epoch } })).messages.map((m) => m.data)).toEqual([4, 5]);
    expect((await hub.history('news', { since: { offset: 5, epoch } })).messages).toEqual([]);
  });

  it('with since, returns none and complete false when history no longer holds everything after it, or its epoch is another', async () => {
    const hub = newHub({ logger: false, history: { size: 2 } });
    for (let i = 1; i <= 5; i++) await hub.publish('news', 'item', i);
    const { epoch } = await hub.position('news');
    expect(await hub.history('news', { since: { offset: 1, epoch } })).toMatchObject({ complete: false, messages: [], position: { offset: 5, epoch } });
    expect(await hub.history('news', { since: { offset: 3, epoch: `${epoch}-other` } })).toMatchObject({ complete: false, messages: [] });
    expect((await hub.history('news', { since: { offset: 3, epoch } })).messages.map((m) => m.data)).toEqual([4, 5]);
  });

  it('refuses a since that is no stream position with a TypeError', async () => {
    const hub = newHub({ logger: false });
    for (const since of [null, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: 1 }, 'e']) {
      await expect(hub.history('news', { since } as never)).rejects.toThrow(new TypeError('livehub: history since must be a stream position: { offset: a whole number, epoch: a string }'));
    }
  });
});
