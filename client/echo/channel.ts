import { Channel, EventFormatter } from 'laravel-echo';
import type { HubMessage, PresenceMember } from '../../pkg/protocol/index.js';
import { channelsOf } from '../core/channels.js';
import { presenceOf, type PresenceChange } from '../core/presence.js';
import type { LiveClient } from '../live-client.js';

/** What the Echo channels need of a client: `LiveClient` (whisper uses publish's `exceptSelf`). */
export type EchoClient = Pick<LiveClient, 'on' | 'off' | 'events' | 'status' | 'lastError' | 'connect' | 'close' | 'setStatus'> & {
  publish(channel: string, type: string, data?: unknown, options?: { exceptSelf?: boolean }): Promise<void>;
  request?<T = unknown>(type: string, data?: unknown): Promise<T>;
};

/** What a channel asks of its connector. */
export interface ChannelHost {
  readonly client: EchoClient;
  /** This connection's id once known (whispers of our own are dropped if the server echoes them). */
  socketId(): string | undefined;
  /** A failed whisper: reported, never thrown (Echo's `whisper` returns the channel). */
  reportError(error: Error): void;
}

type Callback = (...args: unknown[]) => unknown;

/**
 * An Echo channel on a livehub channel of the same name: subscribed from creation until
 * `unsubscribe()` (Echo's `leaveChannel`), one handler set per message type. Event names go through
 * Echo's formatter without its backslashes: with `namespace: 'App.Events'`, `listen('OrderShipped')`
 * hears type `App.Events.OrderShipped`; a leading `.` (`.order.shipped`) names the type as is.
 */
export class LivehubChannel extends Channel {
  readonly eventFormatter: EventFormatter;
  protected readonly handlers = new Map<string, Set<Callback>>();
  private readonly stops: Array<() => void> = [];
  private listening: (() => void) | null = null;

  constructor(protected readonly host: ChannelHost, readonly name: string, options: Channel['options']) {
    super();
    this.options = options;
    this.eventFormatter = new EventFormatter(options.namespace);
    this.subscribe();
  }

  subscribe(): void {
    this.listening ??= channelsOf(this.host.client).listen(this.name, (data, message) => this.deliver(data, message));
  }

  unsubscribe(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.listening?.();
    this.listening = null;
    this.handlers.clear();
  }

  /** The livehub message type an Echo event name stands for. */
  type(event: string): string {
    return this.eventFormatter.format(event).replace(/\\/g, '.');
  }

  listen(event: string, callback: CallableFunction): this {
    const type = this.type(event);
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(callback as Callback);
    return this;
  }

  /** Every message on the channel: `callback(eventName, data)`, the name with a leading `.`. */
  listenToAll(callback: CallableFunction): this {
    return this.listen('.*', callback);
  }

  stopListening(event: string, callback?: CallableFunction): this {
    const type = this.type(event);
    if (callback) this.handlers.get(type)?.delete(callback as Callback);
    else this.handlers.delete(type);
    return this;
  }

  stopListeningToAll(callback?: CallableFunction): this {
    return this.stopListening('.*', callback);
  }

  /** Called after every successful subscribe (also after a reconnect). */
  subscribed(callback: CallableFunction): this {
    this.stops.push(this.host.client.events.on('reply', (reply) => {
      if (reply.type === 'subscribed' && reply.channel === this.name) (callback as Callback)();
    }));
    return this;
  }

  /** Called with the `LiveError` of a refused subscribe (`forbidden`, …). */
  error(callback: CallableFunction): this {
    this.stops.push(this.host.client.events.on('subscribeError', (event) => {
      if (event.channel === this.name) (callback as Callback)(event.error);
    }));
    return this;
  }

  protected deliver(data: unknown, message: HubMessage): void {
    const own = message.from?.client !== undefined && message.from.client === this.host.socketId();
    if (own && message.type.startsWith('client-')) return; // a whisper of ours, echoed by an older server
    for (const callback of [...(this.handlers.get(message.type) ?? [])]) callback(data);
    for (const callback of [...(this.handlers.get('*') ?? [])]) callback(`.${message.type}`, data);
  }

  protected addStop(stop: () => void): void {
    this.stops.push(stop);
  }
}

/** `private-…` channels: the server's `authorize` decides; `whisper` publishes client events. */
export class LivehubPrivateChannel extends LivehubChannel {
  /**
   * Sends a client event (`client-<name>`) to the channel's other subscribers (the server must allow
   * the publish). A failure goes to the connector's `error` listeners: Echo's `whisper` cannot throw.
   */
  whisper(eventName: string, data: unknown): this {
    this.host.client.publish(this.name, `client-${eventName}`, data, { exceptSelf: true })
      .catch((error: Error) => this.host.reportError(error));
    return this;
  }
}

/** An Echo user: the livehub member, with its `presenceInfo` object's fields spread on top. */
export type EchoMember = { id: string; userId: string; status: PresenceMember['status']; info?: unknown } & Record<string, unknown>;

export function toEchoMember(member: PresenceMember): EchoMember {
  const info = member.info !== null && typeof member.info === 'object' && !Array.isArray(member.info) ? member.info as Record<string, unknown> : {};
  return { ...info, id: member.userId, userId: member.userId, status: member.status, ...(member.info === undefined ? {} : { info: member.info }) };
}

/** `presence-…` channels: `here` (the list after each subscribe), `joining`, `leaving`, from livehub presence. */
export class LivehubPresenceChannel extends LivehubPrivateChannel {
  private changes: ((change: PresenceChange) => void)[] = [];

  override subscribe(): void {
    const store = presenceOf(this.host.client, this.name);
    this.addStop(store.acquire());
    this.addStop(store.onChange((change) => { for (const listener of [...this.changes]) listener(change); }));
    super.subscribe();
  }

  override unsubscribe(): void {
    this.changes = [];
    super.unsubscribe();
  }

  here(callback: CallableFunction): this {
    const members = presenceOf(this.host.client, this.name).getSnapshot();
    if (members.length > 0) (callback as Callback)(members.map(toEchoMember));
    return this.onChange('list', (change) => { if (change.type === 'list') (callback as Callback)(change.members.map(toEchoMember)); });
  }

  joining(callback: CallableFunction): this {
    return this.onChange('join', (change) => { if (change.type === 'join') (callback as Callback)(toEchoMember(change.member)); });
  }

  leaving(callback: CallableFunction): this {
    return this.onChange('leave', (change) => { if (change.type === 'leave') (callback as Callback)(toEchoMember(change.member)); });
  }

  private onChange(type: PresenceChange['type'], listener: (change: PresenceChange) => void): this {
    this.changes.push((change) => { if (change.type === type) listener(change); });
    return this;
  }
}
