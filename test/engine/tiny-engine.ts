import type {
  Engine, EngineHandlers, HistoryPolicy, HistoryResult, PresenceEntry, Publication, PublishOptions, PublishResult, StreamPosition,
} from 'livehub/engine';

/**
 * An engine as an app would write one, from livehub/engine's public exports only: every channel's
 * publications in one array, presence in a Map, node messages to itself. Small and slow on purpose
 * (it never forgets a channel's offset, scans for expiry, copies history on each read); what it
 * shows is that the contract, not MemoryEngine's code, is what the hub and the suite rely on.
 */
export class TinyEngine implements Engine {
  private handlers: EngineHandlers | null = null;
  private readonly epoch = `tiny-${Math.random().toString(36).slice(2)}`;
  private readonly streams = new Map<string, { top: number; kept: Array<{ publication: Publication; until: number }> }>();
  private readonly claimed = new Map<string, { position: StreamPosition; until: number }>();
  private readonly present = new Map<string, Map<string, PresenceEntry & { until: number }>>();

  start(handlers: EngineHandlers): void {
    this.handlers = handlers;
  }

  publish(channel: string, type: string, data: string, policy: HistoryPolicy, options: PublishOptions = {}): PublishResult {
    const { idempotencyKey, idempotencyTtl, tags, from, trace } = options;
    if (idempotencyKey !== undefined && !(typeof idempotencyTtl === 'number' && idempotencyTtl >= 1)) throw new TypeError('idempotencyTtl is required');
    const now = Date.now();
    const done = idempotencyKey === undefined ? undefined : this.claimed.get(idempotencyKey);
    if (done && done.until > now) return { ...done.position, duplicate: true };
    const stream = this.stream(channel);
    const publication: Publication = { channel, offset: ++stream.top, epoch: this.epoch, type, data, tags, from, trace };
    stream.kept.push({ publication, until: now + policy.ttl });
    if (stream.kept.length > policy.size) stream.kept.splice(0, stream.kept.length - policy.size);
    if (idempotencyKey !== undefined) this.claimed.set(idempotencyKey, { position: { offset: publication.offset, epoch: this.epoch }, until: now + idempotencyTtl! });
    this.handlers?.deliver(publication);
    return { offset: publication.offset, epoch: this.epoch };
  }

  subscribe(): void {}
  unsubscribe(): void {}

  history(channel: string, since: StreamPosition | null): HistoryResult {
    const stream = this.stream(channel);
    const position = { offset: stream.top, epoch: this.epoch };
    const none = { position, publications: [], recovered: false };
    if (since === null || since.epoch !== this.epoch || since.offset > stream.top) return none;
    const now = Date.now();
    const after = stream.kept.filter((k) => k.until > now && k.publication.offset > since.offset).map((k) => k.publication);
    if (after.length !== stream.top - since.offset) return none;
    return { position, publications: after, recovered: true };
  }

  addPresence(channel: string, entry: PresenceEntry, ttl: number): boolean {
    const members = this.members(channel);
    const now = Date.now();
    const first = ![...members.values()].some((m) => m.userId === entry.userId && m.clientId !== entry.clientId && m.until > now);
    const known = members.has(entry.clientId);
    members.set(entry.clientId, { ...entry, until: now + ttl });
    return first && !known;
  }

  removePresence(channel: string, clientId: string, userId: string): boolean {
    const members = this.members(channel);
    if (!members.delete(clientId)) return false;
    return ![...members.values()].some((m) => m.userId === userId && m.until > Date.now());
  }

  presence(channel: string): PresenceEntry[] {
    return [...this.members(channel).values()].filter((m) => m.until > Date.now()).map(({ until: _until, ...entry }) => entry);
  }

  sweepPresence(channel: string): string[] {
    const members = this.members(channel);
    const gone = new Set<string>();
    for (const [clientId, m] of members) if (m.until <= Date.now()) { members.delete(clientId); gone.add(m.userId); }
    for (const m of members.values()) gone.delete(m.userId);
    return [...gone];
  }

  send(node: string | null, message: string): boolean {
    const handlers = this.handlers;
    if (!handlers || (node !== null && node !== handlers.node)) return false;
    setImmediate(() => handlers.message(message));
    return true;
  }

  close(): void {
    this.handlers = null;
  }

  private stream(channel: string) {
    let stream = this.streams.get(channel);
    if (!stream) this.streams.set(channel, (stream = { top: 0, kept: [] }));
    return stream;
  }

  private members(channel: string) {
    let members = this.present.get(channel);
    if (!members) this.present.set(channel, (members = new Map()));
    return members;
  }
}
