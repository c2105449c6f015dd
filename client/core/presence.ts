import type { PresenceMember, PresenceStatus } from '../../pkg/protocol/index.js';
import type { LiveClient } from '../live-client.js';
import { channelsOf, type ChannelClient } from './channels.js';
import { DEFAULT_RELEASE_DELAY, DeferredCount } from './deferred.js';
import { ValueStore } from './store.js';

export type PresenceClient = ChannelClient & Pick<LiveClient, 'setStatus'>;

interface MemberEvent { userId: string; status?: PresenceStatus; info?: unknown }

/**
 * A change of the member list: `list` (the server's whole list, after each subscribe), or one user
 * who really joined (not already listed), left (was listed) or changed status.
 */
export type PresenceChange =
  | { type: 'list'; members: readonly PresenceMember[] }
  | { type: 'join' | 'leave' | 'update'; member: PresenceMember };

/**
 * Who is in a `presence-…` channel, one entry per user: the list the server sends after each
 * subscribe (and so after each reconnect), kept current by `join`, `leave` and `update` messages.
 * One store per client and channel, shared by every binding: `acquire()` subscribes (the first),
 * `release()` lets go (after the last, deferred like channels).
 */
export class PresenceStore extends ValueStore<readonly PresenceMember[]> {
  private byUser = new Map<string, PresenceMember>();
  private readonly count: DeferredCount;
  private readonly changeListeners = new Set<(change: PresenceChange) => void>();

  constructor(readonly client: PresenceClient, readonly channel: string, releaseDelay = DEFAULT_RELEASE_DELAY) {
    super(Object.freeze([]));
    let stops: Array<() => void> = [];
    this.count = new DeferredCount(() => {
      stops = [
        // Listening to the list before subscribing: the server sends it right after `subscribed`.
        client.events.on('presence', (event) => { if (event.channel === channel) this.replace(event.members); }),
        channelsOf(client).listen<MemberEvent>(channel, (data, message) => this.apply(message.type, data)),
      ];
    }, () => {
      for (const stop of stops) stop();
      stops = [];
      this.replace([]);
    }, releaseDelay);
  }

  acquire(): () => void {
    return this.count.hold();
  }

  /** Calls `listener` for each change of the list (see `PresenceChange`); returns a remover. */
  onChange(listener: (change: PresenceChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => { this.changeListeners.delete(listener); };
  }

  /** Sets this connection's status in the channel (the others get an `update`). */
  setStatus(status: PresenceStatus): Promise<void> {
    return this.client.setStatus(this.channel, status);
  }

  private replace(list: PresenceMember[]): void {
    this.byUser = new Map(list.map((member) => [member.userId, member]));
    this.publish();
    this.emitChange({ type: 'list', members: this.getSnapshot() });
  }

  private emitChange(change: PresenceChange): void {
    for (const listener of [...this.changeListeners]) listener(change);
  }

  private apply(type: string, data: MemberEvent): void {
    if (!data || typeof data.userId !== 'string') return;
    const known = this.byUser.get(data.userId);
    let member: PresenceMember;
    if (type === 'join') {
      member = {
        userId: data.userId, status: data.status ?? 'online', connections: 1,
        ...(data.info === undefined ? {} : { info: data.info }),
      };
      this.byUser.set(data.userId, member);
    } else if (type === 'leave') {
      if (!known) return;
      this.byUser.delete(data.userId);
      member = known;
    } else if (type === 'update' && known) {
      member = { ...known, status: data.status ?? known.status };
      this.byUser.set(data.userId, member);
    } else return;
    this.publish();
    // A join of a user already listed (its own join, after the list) changes nothing for the app.
    if (!(type === 'join' && known)) this.emitChange({ type, member } as PresenceChange);
  }

  private publish(): void {
    this.set(Object.freeze([...this.byUser.values()]));
  }
}

const stores = new WeakMap<object, Map<string, PresenceStore>>();

/** The presence store of `channel` on `client`, shared by every binding on it. */
export function presenceOf(client: PresenceClient, channel: string): PresenceStore {
  let byChannel = stores.get(client);
  if (!byChannel) stores.set(client, (byChannel = new Map()));
  let store = byChannel.get(channel);
  if (!store) byChannel.set(channel, (store = new PresenceStore(client, channel)));
  return store;
}
