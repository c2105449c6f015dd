import { describe, expect, it } from 'vitest';
import type { Publication } from '../../pkg/engine/engine.js';
import { ClientStreams } from '../../pkg/core/streams.js';

/** A batch of one channel's publications at `offsets`, as the loop hands it to `route`. */
function batch(channel: string, offsets: number[]) {
  const publications: Publication[] = offsets.map((offset) => ({ channel, offset, epoch: 'e', type: 't', data: String(offset) }));
  return { offsets, payloads: offsets.map((o) => `p${o}`), publications };
}

describe('ClientStreams', () => {
  it('sends everything to a client with no hold and no floor', () => {
    const streams = new ClientStreams();
    expect(streams.route('a', batch('a', [1, 2]))).toBe('all');
    expect(streams.floors).toBeNull();
  });

  it('drops deliveries at or below a floor, keeps the part above it, then forgets the floor', () => {
    const streams = new ClientStreams();
    streams.setFloor('a', 5);
    expect(streams.route('a', batch('a', [4, 5]))).toBe('none');
    expect(streams.route('a', batch('a', [5, 6, 7]))).toBe(1); // from index 1 on: p6, p7
    expect(streams.floors).toBeNull();
    expect(streams.route('a', batch('a', [3]))).toBe('all'); // past the floor: the stream is in order
  });

  it('keeps each channel its own floor, and a channel named like an offset is not confused with one', () => {
    const streams = new ClientStreams();
    streams.setFloor('7', 10);
    streams.setFloor('b', 7);
    streams.setFloor('7', 12); // moves, not added
    expect(streams.floors).toEqual(['7', 12, 'b', 7]);
    expect(streams.route('b', batch('b', [8]))).toBe('all');
    expect(streams.route('7', batch('7', [11, 12]))).toBe('none');
    expect(streams.route('7', batch('7', [13]))).toBe('all');
    expect(streams.floors).toBeNull();
  });

  it('holds live publications while a subscribe waits, and releases them in order', () => {
    const streams = new ClientStreams();
    streams.hold('a');
    expect(streams.route('a', batch('a', [1, 2]))).toBe('none');
    expect(streams.route('b', batch('b', [1]))).toBe('all');
    expect(streams.release('a')?.map((h) => [h.publication.offset, h.payload])).toEqual([[1, 'p1'], [2, 'p2']]);
    expect(streams.recovering).toBeNull();
    expect(streams.release('a')).toBeUndefined();
  });

  it('forgets a channel: its hold and its floor', () => {
    const streams = new ClientStreams();
    streams.hold('a');
    streams.setFloor('a', 3);
    streams.setFloor('b', 1);
    streams.forget('a');
    expect(streams.recovering).toBeNull();
    expect(streams.floors).toEqual(['b', 1]);
    expect(streams.route('a', batch('a', [2]))).toBe('all');
  });

  it('sends a batch from its first offset above the floor, however many are at or below it', () => {
    const streams = new ClientStreams();
    streams.setFloor('a', 5);
    expect(streams.route('a', batch('a', [3, 4, 5, 6, 7]))).toBe(3);
  });

  it('releases a channel\'s hold only for its own subscribe, and keeps holding the other channels', () => {
    const streams = new ClientStreams();
    const first = streams.hold('a');
    const second = streams.hold('a');
    streams.hold('b');
    expect(streams.release('a', first)).toBeUndefined();
    expect(streams.route('a', batch('a', [1]))).toBe('none');
    expect(streams.release('a', second)).toBe(second);
    expect(second).toHaveLength(1);
    expect(streams.route('b', batch('b', [1]))).toBe('none');
    expect(streams.release('b')).toHaveLength(1);
    expect(streams.recovering).toBeNull();
  });

  it('forgets the floor of any of its channels', () => {
    const streams = new ClientStreams();
    streams.setFloor('a', 1);
    streams.setFloor('b', 2);
    streams.forget('b');
    expect(streams.floors).toEqual(['a', 1]);
  });
});
