import { describe, expect, it } from 'vitest';
import { ClientStreams } from '../../pkg/core/streams.js';

describe('ClientStreams', () => {
  it('sends everything to a client with no hold and no floor', () => {
    const streams = new ClientStreams();
    expect(streams.route('a', [1, 2], ['p1', 'p2'])).toBe('all');
    expect(streams.floors).toBeNull();
  });

  it('drops deliveries at or below a floor, keeps the part above it, then forgets the floor', () => {
    const streams = new ClientStreams();
    streams.setFloor('a', 5);
    expect(streams.route('a', [4, 5], ['p4', 'p5'])).toBe('none');
    expect(streams.route('a', [5, 6, 7], ['p5', 'p6', 'p7'])).toBe(1); // from index 1 on: p6, p7
    expect(streams.floors).toBeNull();
    expect(streams.route('a', [3], ['p3'])).toBe('all'); // past the floor: the stream is in order
  });

  it('keeps each channel its own floor, and a channel named like an offset is not confused with one', () => {
    const streams = new ClientStreams();
    streams.setFloor('7', 10);
    streams.setFloor('b', 7);
    streams.setFloor('7', 12); // moves, not added
    expect(streams.floors).toEqual(['7', 12, 'b', 7]);
    expect(streams.route('b', [8], ['b8'])).toBe('all');
    expect(streams.route('7', [11, 12], ['x', 'y'])).toBe('none');
    expect(streams.route('7', [13], ['z'])).toBe('all');
    expect(streams.floors).toBeNull();
  });

  it('holds live publications while a subscribe waits, and releases them in order', () => {
    const streams = new ClientStreams();
    streams.hold('a');
    expect(streams.route('a', [1, 2], ['p1', 'p2'])).toBe('none');
    expect(streams.route('b', [1], ['q1'])).toBe('all');
    expect(streams.release('a')?.map((p) => p.offset)).toEqual([1, 2]);
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
    expect(streams.route('a', [2], ['p2'])).toBe('all');
  });
});
