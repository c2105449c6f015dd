import type { Redis } from 'ioredis';
import type { EngineHandlers, Publication } from './engine.js';
import { GlobPatterns } from './glob-patterns.js';
import { decodeMessage } from './redis-format.js';
import type { EngineUnavailableError } from './redis-health.js';

/** What the Redis engine's pattern delivery needs of the engine. */
export interface RedisPatternHost {
  readonly subscriber: Redis;
  readonly host: string;
  /** The prefix of the publications' pub/sub channels (`{p}:d:`). */
  readonly publications: string;
  handlers(): EngineHandlers | null;
  /** Whether the node gets the channel by name (then a pattern's copy is not handed on). */
  tracked(channel: string): boolean;
  unavailable(what: string, err: unknown): EngineUnavailableError;
}

/**
 * The Redis engine's pattern delivery: each pattern's covering glob (glob-patterns.ts) PSUBSCRIBEd
 * under the publications' prefix, subscribed again after a reconnect; a publication arriving through
 * a glob is handed on once, and only when the node does not get its channel by name already.
 */
export class RedisPatterns {
  private readonly globs = new GlobPatterns();

  constructor(private readonly host: RedisPatternHost) {
    host.subscriber.on('pmessage', (glob: string, key: string, message: string) => this.message(glob, key, message));
  }

  async subscribe(pattern: string): Promise<void> {
    const glob = this.globs.add(pattern);
    if (glob === null) return;
    await this.host.subscriber.psubscribe(this.key(glob)).catch((err: unknown) => { throw this.host.unavailable(`subscribe to pattern '${pattern}'`, err); });
  }

  async unsubscribe(pattern: string): Promise<void> {
    const glob = this.globs.remove(pattern);
    if (glob === null) return;
    await this.host.subscriber.punsubscribe(this.key(glob)).catch((err: unknown) => { throw this.host.unavailable(`unsubscribe from pattern '${pattern}'`, err); });
  }

  /** The subscriber connection is (again) ready: its globs are subscribed again. */
  ready(): void {
    if (this.globs.size > 0) this.host.subscriber.psubscribe(...this.globs.all().map((g) => this.key(g))).catch(() => { /* the engine's check finds a dead connection */ });
  }

  /** The Redis glob of a pattern's glob: under the publications' prefix, escaped (it is glob text too). */
  private key(glob: string): string {
    return `${this.host.publications.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}${glob}`;
  }

  private message(globKey: string, key: string, message: string): void {
    const channel = key.slice(this.host.publications.length);
    const glob = globKey.slice(this.key('').length);
    const handlers = this.host.handlers();
    if (!handlers || this.host.tracked(channel) || !this.globs.owner(glob, channel)) return;
    let publication: Publication;
    try {
      publication = decodeMessage(channel, message);
    } catch (err) {
      handlers.log?.('error', `redis:${this.host.host}:bad-message`, { code: 'engine_bad_message', err, host: this.host.host, channel },
        `livehub: a pub/sub message of channel '${channel}' from Redis at ${this.host.host} could not be read (${(err as Error).message}); it was dropped (pattern subscribers get live messages only)`);
      return;
    }
    handlers.deliver(publication);
  }
}
