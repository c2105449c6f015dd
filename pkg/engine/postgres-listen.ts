import pg from 'pg';
import type { PostgresHealth } from './postgres-health.js';

/**
 * The PostgreSQL engine's listening connection: one `pg.Client` per node, outside the pool, that
 * LISTENs to the schema's two notification channels: `<schema>` (a channel name: new messages there,
 * a wake-up hint only) and `<schema>_nodes` (node messages). When it drops, or stops answering the
 * periodic check, it is replaced (with a growing delay up to 2 s) and `onConnect` runs again, so
 * the node reads every followed channel for what it missed.
 */

export interface ListenerEvents {
  publication(channel: string): void;
  /** A node message notification's payload (JSON: [target, body] or [target, null, stored id]). */
  node(payload: string): void;
  /** The connection is (again) listening. */
  connected(): void;
}

export class Listener {
  private client: pg.Client | null = null;
  private stopped = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly schema: string,
    private readonly health: PostgresHealth,
    private readonly commandTimeout: number,
    private readonly events: ListenerEvents,
  ) {}

  /** Connects once (a failure is logged and retried in the background). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Checks that the connection still answers; one that does not is replaced. */
  async check(): Promise<void> {
    const client = this.client;
    if (!client || this.checking) return;
    this.checking = true;
    try {
      await client.query({ text: 'select 1', query_timeout: this.commandTimeout } as pg.QueryConfig);
    } catch (err) {
      this.dropped(client, err);
    } finally {
      this.checking = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    if (client) destroy(client);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ application_name: 'livehub listen', ...this.config, connectionTimeoutMillis: this.commandTimeout, keepAlive: true });
    client.on('error', (err) => this.dropped(client, err));
    client.on('end', () => this.dropped(client, new Error('the connection was closed')));
    client.on('notification', (n) => {
      if (n.channel === this.schema) this.events.publication(n.payload ?? '');
      else if (n.channel === `${this.schema}_nodes` && n.payload) this.events.node(n.payload);
    });
    try {
      await client.connect();
      await client.query({ text: `listen ${this.schema}; listen ${this.schema}_nodes`, query_timeout: this.commandTimeout } as pg.QueryConfig);
    } catch (err) {
      this.dropped(client, err);
      return;
    }
    if (this.stopped) return destroy(client);
    this.client = client;
    this.attempts = 0;
    this.health.ok();
    this.events.connected();
  }

  private dropped(client: pg.Client, err: unknown): void {
    const current = this.client === client;
    if ((client as { livehubDropped?: boolean }).livehubDropped) return;
    (client as { livehubDropped?: boolean }).livehubDropped = true;
    destroy(client);
    if (this.stopped) return;
    if (current) this.client = null;
    this.health.lost('listening', err);
    const delay = Math.min(50 * 2 ** this.attempts++, 2000);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }
}

/** Closes a connection at once, without waiting for a server that may be frozen. */
function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => {});
}
