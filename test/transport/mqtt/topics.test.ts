import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelOf, topicOf } from 'livehub/mqtt';
import { isValidChannel } from '../../../pkg/protocol/index.js';

describe('MQTT topics and livehub channels', () => {
  it('map a channel of plain characters to the topic of the same name', () => {
    expect(topicOf('sensors/kitchen/temp')).toBe('sensors/kitchen/temp');
    expect(channelOf('sensors/kitchen/temp')).toBe('sensors/kitchen/temp');
  });

  it('escape what a topic name cannot hold: + # the broadcast channel * and a leading $', () => {
    expect(topicOf('a+b#c')).toBe('a%2Bb%23c');
    expect(topicOf('*')).toBe('%2A');
    expect(topicOf('$money/a$b')).toBe('%24money/a$b');
    expect(channelOf('a%2Bb%23c')).toBe('a+b#c');
    expect(channelOf('%24money/a$b')).toBe('$money/a$b');
  });

  it('give every channel one topic that maps back to it', () => {
    const character = fc.constantFrom(...'Aa0_-:.@/=+,!~#$'.split(''));
    fc.assert(fc.property(fc.array(character, { minLength: 1, maxLength: 255 }).map((c) => c.join('')), (channel) => {
      expect(isValidChannel(channel)).toBe(true);
      expect(channelOf(topicOf(channel))).toBe(channel);
    }));
  });

  it('name no channel for a topic that is not some channel\'s topic', () => {
    for (const topic of ['', 'has space', 'caf\u00e9', 'a%2', 'a%41', 'a%24b', 'x'.repeat(256), '%2A/x']) expect(channelOf(topic), topic).toBeNull();
  });
});
