import { patternReach, topicOf } from '../protocol/index.js';

/** A level of the trie: literal children, the `+` child, and what ends here or under `#`. */
interface Node<T> {
  children: Map<string, Node<T>> | null;
  plus: Node<T> | null;
  /** Values of patterns that end at this node. */
  here: Set<T> | null;
  /** Values of patterns with `#` at this level (they match this node and everything below). */
  rest: Set<T> | null;
}

function node<T>(): Node<T> {
  return { children: null, plus: null, here: null, rest: null };
}

/**
 * Pattern subscriptions by pattern, as a trie of topic levels (pkg/protocol/patterns.ts says what a
 * pattern is and what it never reaches): a channel's matches are found by walking its topic's levels,
 * at most two branches a level (the literal one and `+`), never by testing every pattern and never by
 * a scan over channels. Each pattern holds the values (sessions) subscribed to it.
 */
export class TopicTrie<T> {
  private readonly root: Node<T> = node();
  /** Patterns held, each with how many values hold it. */
  readonly patterns = new Map<string, number>();

  get size(): number {
    return this.patterns.size;
  }

  /** Adds a value under a valid pattern; true when the pattern is new in the trie. */
  add(pattern: string, value: T): boolean {
    let at = this.root;
    const levels = pattern.split('/');
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      if (level === '#') {
        (at.rest ??= new Set()).add(value);
        return this.count(pattern, 1);
      }
      if (level === '+') at = at.plus ??= node();
      else {
        at.children ??= new Map();
        let next = at.children.get(level);
        if (next === undefined) at.children.set(level, (next = node()));
        at = next;
      }
    }
    (at.here ??= new Set()).add(value);
    return this.count(pattern, 1);
  }

  /** Removes a value from a pattern; true when no value holds the pattern any more. */
  remove(pattern: string, value: T): boolean {
    const path: Array<[Node<T>, string]> = [];
    let at: Node<T> | null | undefined = this.root;
    const levels = pattern.split('/');
    for (const level of levels) {
      if (level === '#') break;
      path.push([at, level]);
      at = level === '+' ? at.plus : at.children?.get(level);
      if (!at) return false;
    }
    const set = levels[levels.length - 1] === '#' ? at.rest : at.here;
    if (!set?.delete(value)) return false;
    if (set.size === 0) {
      if (levels[levels.length - 1] === '#') at.rest = null;
      else at.here = null;
    }
    // Prune the empty nodes bottom up.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]!;
      const child = level === '+' ? parent.plus : parent.children?.get(level);
      if (!child || child.here || child.rest || child.plus || (child.children && child.children.size > 0)) break;
      if (level === '+') parent.plus = null;
      else {
        parent.children!.delete(level);
        if (parent.children!.size === 0) parent.children = null;
      }
    }
    return this.count(pattern, -1);
  }

  /**
   * Calls `visit` for each value of each pattern that matches `channel` (a value under two matching
   * patterns is visited twice: the caller keeps it once).
   */
  match(channel: string, visit: (value: T) => void): void {
    if (this.patterns.size === 0) return;
    const reach = patternReach(channel);
    if (reach === 'never') return;
    const levels = topicOf(channel).split('/');
    this.walk(this.root, levels, 0, reach === 'named', visit);
  }

  private walk(at: Node<T>, levels: string[], i: number, literalFirst: boolean, visit: (value: T) => void): void {
    // `#` here matches this level and everything below (none included: `a/#` matches `a`).
    const wildOk = !(literalFirst && i === 0);
    if (at.rest && wildOk) for (const value of at.rest) visit(value);
    if (i === levels.length) {
      if (at.here) for (const value of at.here) visit(value);
      return;
    }
    const next = at.children?.get(levels[i]!);
    if (next) this.walk(next, levels, i + 1, literalFirst, visit);
    if (at.plus && wildOk) this.walk(at.plus, levels, i + 1, literalFirst, visit);
  }

  private count(pattern: string, delta: 1 | -1): boolean {
    const held = (this.patterns.get(pattern) ?? 0) + delta;
    if (held <= 0) {
      this.patterns.delete(pattern);
      return true;
    }
    this.patterns.set(pattern, held);
    return delta === 1 && held === 1;
  }
}

