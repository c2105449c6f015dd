import { describe, expect, it } from 'vitest';
import { TopicTrie } from '../../pkg/core/topic-trie.js';
import { globOf, GlobPatterns } from '../../pkg/engine/glob-patterns.js';
import { matchesPattern, patternError } from '../../pkg/protocol/index.js';

const PATTERNS = ['a/+', 'a/#', '#', '+/+', '+', 'a/+/c', 'a/b/#', '+/b/+', 'a%2Bb/+', '%24sys/#', 'private-x/#'];
const CHANNELS = ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'x/b/y', 'b', 'a+b/1', '$sys/load', 'a//c', 'private-x', 'private-x/1', 'private-y/1', 'user:bob', 'presence-room', '#hub', '*'];

function matches(trie: TopicTrie<string>, channel: string): string[] {
  const found = new Set<string>();
  trie.match(channel, (value) => found.add(value));
  return [...found].sort();
}

describe('the topic trie', () => {
  it('finds, for every channel, exactly the patterns matchesPattern says match it', () => {
    const trie = new TopicTrie<string>();
    for (const pattern of PATTERNS) trie.add(pattern, pattern);
    for (const channel of CHANNELS) {
      expect(matches(trie, channel), channel).toEqual(PATTERNS.filter((p) => matchesPattern(p, channel)).sort());
    }
  });

  it('follows the MQTT rules: "+" is one level, "#" the rest with its parent, escaped characters literal', () => {
    expect(matchesPattern('a/#', 'a')).toBe(true);
    expect(matchesPattern('a/+', 'a')).toBe(false);
    expect(matchesPattern('a/+', 'a/b/c')).toBe(false);
    expect(matchesPattern('+/+', 'a//c')).toBe(false);
    expect(matchesPattern('a/+/c', 'a//c')).toBe(true);
    expect(matchesPattern('a%2Bb/+', 'a+b/1')).toBe(true);
    expect(matchesPattern('%24sys/#', '$sys/load')).toBe(true);
    expect(matchesPattern('#', 'user:bob')).toBe(false);
    expect(matchesPattern('#', 'private-x/1')).toBe(false);
    expect(matchesPattern('private-x/#', 'private-x/1')).toBe(true);
    expect(matchesPattern('#', '*')).toBe(false);
  });

  it('forgets a pattern once its last value left, and says when a pattern is new or gone', () => {
    const trie = new TopicTrie<string>();
    expect(trie.add('a/+', 's1')).toBe(true);
    expect(trie.add('a/+', 's2')).toBe(false);
    expect(trie.remove('a/+', 's1')).toBe(false);
    expect(matches(trie, 'a/b')).toEqual(['s2']);
    expect(trie.remove('a/+', 's2')).toBe(true);
    expect(trie.remove('a/+', 's2')).toBe(false);
    expect(matches(trie, 'a/b')).toEqual([]);
    expect(trie.size).toBe(0);
  });

  it('refuses malformed patterns with a sentence naming the fault', () => {
    expect(patternError('a/#/b')).toMatch(/last level/);
    expect(patternError('a/b#')).toMatch(/stand alone/);
    expect(patternError('+a')).toMatch(/stand alone/);
    expect(patternError('a/b')).toMatch(/needs a "\+" or "#"/);
    expect(patternError('a b/+')).toMatch(/not part of any channel's topic/);
    expect(patternError('$SYS/#')).toMatch(/not part of any channel's topic/);
    expect(patternError('x'.repeat(766) + '/#')).toMatch(/at most 765/);
    expect(patternError('sensors/+/temp')).toBeNull();
  });
});

describe('covering globs of patterns', () => {
  it('cover every channel the pattern matches', () => {
    const globs = new GlobPatterns();
    for (const pattern of PATTERNS) {
      globs.add(pattern);
      for (const channel of CHANNELS) if (matchesPattern(pattern, channel)) expect(globs.covers(channel), `${pattern} ${channel}`).toBe(true);
      globs.remove(pattern);
    }
    expect(globOf('sensors/+/temp')).toBe('sensors/*/temp');
    expect(globOf('sensors/#')).toBe('sensors*');
    expect(globOf('a%2Bb/%2A/#')).toBe('a+b/\\**');
  });

  it('name one owner per channel, so a publication two globs cover is handed on once', () => {
    const globs = new GlobPatterns();
    globs.add('a/+');
    globs.add('a/#');
    const owners = ['a/*', 'a*'].filter((glob) => globs.owner(glob, 'a/b'));
    expect(owners).toEqual(['a/*']);
    globs.remove('a/+');
    expect(globs.owner('a*', 'a/b')).toBe(true);
  });
});
