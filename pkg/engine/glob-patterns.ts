/**
 * Pattern delivery for engines whose store delivers by glob (Redis PSUBSCRIBE): each pattern (an
 * MQTT topic filter over the channel <-> topic mapping, see livehub's protocol patterns.ts) becomes a
 * glob over channel names that covers it (`sensors/+/temp` is `sensors/*\/temp`, `sensors/#` is
 * `sensors*`); the hub then matches each delivered publication exactly against its patterns' trie.
 * A glob may cover more channels than its pattern: those are delivered and dropped by the hub.
 *
 * Each publication must reach the hub once, though the store sends it once per matching glob, and
 * once more when the node also subscribes to the channel by name: `owner` picks the one delivery
 * that counts.
 */

const UNESCAPE: Record<string, string> = { '%2B': '+', '%23': '#', '%2A': '*', '%24': '$' };

/** A pattern's level, written in the channel's characters (its topic escapes undone). */
function channelPart(level: string): string {
  return level.replace(/%2B|%23|%2A|%24/g, (escape) => UNESCAPE[escape]!);
}

/** The glob over channel names that covers a valid pattern (Redis glob syntax, special characters escaped). */
export function globOf(pattern: string): string {
  const levels = pattern.split('/');
  const parts = levels.map((level) => (level === '+' || level === '#' ? '*' : channelPart(level).replace(/[*?[\]\\]/g, (c) => `\\${c}`)));
  let glob = parts.join('/');
  // `a/#` also matches `a` itself: the glob drops the slash before the final `#`.
  if (levels.length > 1 && levels[levels.length - 1] === '#') glob = `${parts.slice(0, -1).join('/')}*`;
  // Runs of wildcards become one (an escaped `*` of a channel name stays itself).
  return glob.replace(/(?<!\\)\*{2,}/g, '*');
}

/** A glob (as `globOf` writes it) as a regular expression over channel names. */
function regexOf(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') source += glob[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') source += '.*';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** The globs a node's patterns need, each with how many patterns share it. */
export class GlobPatterns {
  private readonly globs = new Map<string, { count: number; regex: RegExp }>();

  get size(): number {
    return this.globs.size;
  }

  /** Every glob held (to subscribe again after a reconnect). */
  all(): string[] {
    return [...this.globs.keys()];
  }

  /** Adds a pattern; returns its glob when the glob is new (subscribe to it), or null. */
  add(pattern: string): string | null {
    const glob = globOf(pattern);
    const held = this.globs.get(glob);
    if (held) {
      held.count++;
      return null;
    }
    this.globs.set(glob, { count: 1, regex: regexOf(glob) });
    return glob;
  }

  /** Removes a pattern; returns its glob when no pattern needs it any more (unsubscribe from it), or null. */
  remove(pattern: string): string | null {
    const glob = globOf(pattern);
    const held = this.globs.get(glob);
    if (!held) return null;
    if (--held.count > 0) return null;
    this.globs.delete(glob);
    return glob;
  }

  /** Whether any glob covers the channel. */
  covers(channel: string): boolean {
    for (const { regex } of this.globs.values()) if (regex.test(channel)) return true;
    return false;
  }

  /**
   * Whether the delivery of `channel` through `glob` is the one that counts: the first glob held
   * that covers the channel (the store sends it once per matching glob).
   */
  owner(glob: string, channel: string): boolean {
    for (const [held, { regex }] of this.globs) if (regex.test(channel)) return held === glob;
    return false;
  }
}
