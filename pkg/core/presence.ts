import type { Engine, PresenceEntry } from '../engine/engine.js';
import type { PresenceMember, PresenceStatus, RequestId, ServerReply } from '../protocol/index.js';
import type { Session as Client } from './session.js';
import { after } from './maybe.js';
import type { ResolvedHubOptions } from './options.js';

/**
 * The server's own presence set of one user's connections, on every node: what `isUserConnected` and
 * `connectedClients` read (one small set per user, so a look-up does not grow with the user count).
 */
export function userSet(userId: string): string {
  return `#user:${userId}`;
}

/** Presence channels are those named `presence-…`. */
export function isPresenceChannel(channel: string): boolean {
  return channel.startsWith('presence-');
}

/** Groups connections by user: one member per user, with the status of its latest connection. */
export function members(entries: readonly PresenceEntry[]): PresenceMember[] {
  const byUser = new Map<string, PresenceMember>();
  for (const entry of entries) {
    const member = byUser.get(entry.userId);
    if (member) {
      member.connections++;
      member.status = entry.status;
    } else {
      byUser.set(entry.userId, { userId: entry.userId, status: entry.status, connections: 1, ...(entry.info === undefined ? {} : { info: entry.info }) });
    }
  }
  return [...byUser.values()];
}

interface PresenceHost {
  readonly options: ResolvedHubOptions;
  readonly reporter: import('./report.js').Reporter;
  publish(channel: string, type: string, data?: unknown): unknown;
  /** A user joined or left a presence channel (for hub events and webhooks). */
  presenceChanged(channel: string, userId: string, joined: boolean): void;
  reply(client: Client, reply: ServerReply): void;
}

/**
 * Presence for the hub: who is in each `presence-…` channel, across nodes (the engine keeps it).
 * Members get `join` (a user's first connection), `leave` (its last one) and `update` (a status
 * change) as ordinary messages on the channel, and the member list after subscribing and on request.
 * Connections are refreshed every `presenceTtl / 3`; those of a dead node expire and are swept,
 * which publishes their users' `leave`.
 */
export class Presence {
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly engine: Engine, private readonly host: PresenceHost, clients: () => Iterable<Client>) {
    this.timer = setInterval(() => this.tick(clients()), Math.max(100, Math.floor(host.options.presenceTtl / 3)));
    this.timer.unref();
  }

  /** The client is now subscribed to a presence channel. */
  join(client: Client, channel: string): void {
    (client.presence ??= new Map()).set(channel, 'online');
    this.add(client, channel, true, () => this.list(client, channel));
  }

  /** Registers an authenticated connection in the cluster-wide set of users. */
  register(client: Client): void {
    if (!client.identity) return;
    const set = userSet(client.identity.userId);
    (client.presence ??= new Map()).set(set, 'online');
    this.add(client, set, false, () => {});
  }

  /** The client left the channel (unsubscribed or disconnected). */
  leave(client: Client, channel: string): void {
    if (!client.presence?.delete(channel)) return;
    if (client.presence.size === 0) client.presence = null;
    const userId = this.userOf(client);
    this.run(() => this.engine.removePresence(channel, client.id, userId), (left) => {
      if (left && !channel.startsWith('#')) {
        this.host.publish(channel, 'leave', { userId });
        this.host.presenceChanged(channel, userId, false);
      }
    });
  }

  list(client: Client, channel: string, id?: RequestId): void {
    this.run(() => this.engine.presence(channel), (entries) => {
      const reply: ServerReply = { type: 'presence', channel, members: members(entries) };
      this.host.reply(client, id === undefined ? reply : { ...reply, id });
    });
  }

  status(client: Client, channel: string, status: PresenceStatus, id?: RequestId): void {
    (client.presence ??= new Map()).set(channel, status);
    this.add(client, channel, false, () => {
      this.host.publish(channel, 'update', { userId: this.userOf(client), status });
      if (id !== undefined) this.host.reply(client, { type: 'ack', id });
    });
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Refreshes this node's connections and sweeps the channels it serves. */
  private tick(clients: Iterable<Client>): void {
    const channels = new Set<string>();
    for (const client of clients) {
      if (!client.presence) continue;
      for (const channel of client.presence.keys()) {
        channels.add(channel);
        this.add(client, channel, true, () => {});
      }
    }
    for (const channel of channels) {
      this.run(() => this.engine.sweepPresence(channel), (gone) => {
        if (channel.startsWith('#')) return;
        for (const userId of gone) {
          this.host.publish(channel, 'leave', { userId });
          this.host.presenceChanged(channel, userId, false);
        }
      });
    }
  }

  private add(client: Client, channel: string, announce: boolean, then: () => void): void {
    const status = client.presence?.get(channel);
    if (status === undefined) return;
    const { presenceInfo, presenceTtl } = this.host.options;
    const info = presenceInfo?.(client.identity, client.id, client.request);
    const entry: PresenceEntry = { clientId: client.id, userId: this.userOf(client), status, ...(info === undefined ? {} : { info }) };
    this.run(() => this.engine.addPresence(channel, entry, presenceTtl), (joined) => {
      if (joined && announce && !channel.startsWith('#')) {
        this.host.publish(channel, 'join', { userId: entry.userId, status, ...(info === undefined ? {} : { info }) });
        this.host.presenceChanged(channel, entry.userId, true);
      }
      then();
    });
  }

  /** Anonymous connections are members as themselves. */
  private userOf(client: Client): string {
    return client.identity?.userId ?? `anonymous:${client.id}`;
  }

  private run<T>(task: () => T | Promise<T>, then: (value: T) => void): void {
    after(task, then, (error) => this.host.reporter.report('error', 'presence_failed', `livehub: a presence update failed: ${error.message}; members may be out of date until the next refresh`, error, `presence_failed:${error.message}`));
  }
}
