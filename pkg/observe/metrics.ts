import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CloseCode } from '../protocol/index.js';
import type { Hub } from '../hub.js';
import { BoundedLabel, hubState, listen } from './listen.js';

/**
 * A hub's Prometheus metrics: gauges read from the hub at scrape time, counters moved by the hub's
 * events (each listener O(1): one `inc` on a child looked up by a bounded label). Labels are only
 * ever a transport, a reason, a close code, an error code or `recovered`, each from a bounded set:
 * never a channel, a user or a connection id, so 10,000 channels make no more series than one.
 */

/** Close codes that get their own label value; any other code a peer sends is `other`. */
const KNOWN_CLOSE_CODES = new Set<number>([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1015, ...Object.values(CloseCode)]);
/** Error and engine codes come from livehub's own source; past this many distinct ones, `other`. */
const MAX_CODES = 64;
const COMMAND_TYPES = new Set(['subscribe', 'unsubscribe', 'publish', 'ping', 'presence', 'status']);

export interface HubMetricsOptions {
  registry: Registry;
  prefix: string;
  /** Times every inbound command (`command_duration_seconds{type}`) through a `hub.use` middleware. */
  commandDuration: boolean;
}

export class HubMetrics {
  private readonly stop: Array<() => void> = [];
  private readonly lag: IntervalHistogram;
  private readonly names: string[] = [];

  constructor(private readonly hub: Hub, private readonly options: HubMetricsOptions) {
    const { prefix } = options;
    const gauge = (name: string, help: string, collect: (g: Gauge<string>) => void, labelNames: string[] = []) =>
      this.register(new Gauge({ name: prefix + name, help, labelNames, registers: [], collect() { collect(this); } }));
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      this.register(new Counter({ name: prefix + name, help, labelNames, registers: [] }));
    /** A counter that mirrors one of the hub's running totals at scrape time. */
    const total = (name: string, help: string, read: () => number) =>
      this.register(new Counter({ name: prefix + name, help, registers: [], collect() { this.reset(); this.inc(read()); } }));

    gauge('connections', 'Open connections on this node, by transport.', (g) => {
      g.reset();
      g.set({ transport: 'websocket' }, 0);
      g.set({ transport: 'sse' }, 0);
      for (const [transport, count] of Object.entries(hub.info().connections)) g.set({ transport: transports.of(transport) }, count);
    }, ['transport']);
    gauge('users', 'Distinct authenticated users connected to this node.', (g) => g.set(hub.info().users));
    // Read from counts the hub keeps as they change: a scrape costs the same at 100 or 100,000 connections.
    gauge('channels', 'Channels with subscribers on this node.', (g) => g.set(hub.info().channels));
    gauge('subscriptions', 'Subscriptions (connection, channel) on this node.', (g) => g.set(hub.info().subscriptions));
    gauge('engine_up', '1 while the engine reaches its store (Redis), 0 while it is unreachable.', (g) => g.set(hubState(hub).engineUp ? 1 : 0));
    gauge('draining', '1 once the node drains or closes (readiness then answers 503).', (g) => g.set(hubState(hub).draining ? 1 : 0));
    gauge('uptime_seconds', 'Seconds since the hub started.', (g) => g.set(hub.info().uptime / 1000));
    gauge('node_info', 'This node (always 1), labelled with its id.', (g) => g.set({ node: hub.node }, 1), ['node']);

    total('writes_total', 'Transport writes (a corked batch of frames counts once).', () => hub.info().writes);
    total('frames_total', 'Frames (messages and replies) handed to transports.', () => hub.info().frames);
    total('bytes_total', 'Bytes handed to transports.', () => hub.info().bytes);

    const opened = counter('connections_opened_total', 'Connections opened, by transport.', ['transport']);
    const closed = counter('connections_closed_total', 'Connections closed, by close code (`other`: a code livehub does not name; `none`: no close frame).', ['code']);
    const published = counter('messages_published_total', 'Messages published through this node (given a position by the engine).');
    const delivered = counter('messages_delivered_total', 'Messages queued to connections of this node (one per message and connection).');
    const dropped = counter('messages_dropped_total', 'Messages that reached no one: `publish_failed` (the engine refused them), `evicted` (queued for a slow consumer when it was closed).', ['reason']);
    const evictions = counter('evictions_total', 'Slow consumers closed with 4001, by reason (`send_buffer`: its queue overflowed; `write_timeout`: its socket did not drain within writeWait).', ['reason']);
    const errors = counter('errors_total', 'Failures reported by the hub, by code (as in the logs).', ['code']);
    const recoveries = counter('recoveries_total', 'Subscribes that asked to resume from a position: recovered from history or not.', ['recovered']);
    const resets = counter('resets_total', 'Channel streams that broke (subscribers told to reload).');
    const engineDown = counter('engine_down_total', 'Times the engine lost its store, by code.', ['code']);
    const latency = this.register(new Histogram({
      name: `${prefix}publish_delivery_seconds`, help: 'From publish (on any node) to fan-out on this node.', registers: [],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }));
    for (const recovered of ['true', 'false']) recoveries.inc({ recovered }, 0);
    for (const reason of ['send_buffer', 'write_timeout']) evictions.inc({ reason }, 0);
    for (const reason of ['publish_failed', 'evicted']) dropped.inc({ reason }, 0);

    const transports = new BoundedLabel(8, ['websocket', 'sse']);
    const errorCodes = new BoundedLabel(MAX_CODES);
    this.stop.push(listen(hub, {
      'connection.opened': (e: { session: { transport: string } }) => opened.inc({ transport: transports.of(e.session.transport) }),
      'connection.closed': (e: { code?: number }) => closed.inc({ code: e.code === undefined ? 'none' : KNOWN_CLOSE_CODES.has(e.code) ? String(e.code) : 'other' }),
      'message.published': () => published.inc(),
      'message.delivered': (e: { messages: number; sessions: number; publishedAt?: number | number[] }) => {
        delivered.inc(e.messages * e.sessions);
        // Publish times, when the hub gives them (see docs/operations.md, "Latency").
        const at = e.publishedAt;
        if (typeof at === 'number') latency.observe(Math.max(0, Date.now() - at) / 1000);
        else if (Array.isArray(at)) { const now = Date.now(); for (const t of at) latency.observe(Math.max(0, now - t) / 1000); }
      },
      evicted: (e: { reason: string; dropped?: number }) => {
        evictions.inc({ reason: /writeWait|write timeout|drain/i.test(e.reason) ? 'write_timeout' : 'send_buffer' });
        if (typeof e.dropped === 'number') dropped.inc({ reason: 'evicted' }, e.dropped);
      },
      error: (e: { code: string }) => {
        errors.inc({ code: errorCodes.of(e.code) });
        if (e.code === 'publish_failed') dropped.inc({ reason: 'publish_failed' });
      },
      subscribed: (e: { recovered?: boolean }) => { if (e.recovered !== undefined) recoveries.inc({ recovered: String(e.recovered) }); },
      reset: () => resets.inc(),
      'engine.down': (e: { code: string }) => engineDown.inc({ code: errorCodes.of(e.code) }),
    }));

    // Loop lag: how late timers and I/O callbacks run (percentiles since the last scrape).
    this.lag = monitorEventLoopDelay({ resolution: 10 });
    this.lag.enable();
    const { lag } = this;
    gauge('event_loop_lag_seconds', 'Event loop delay since the last scrape, by quantile (`max` included).', (g) => {
      const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      for (const q of [0.5, 0.9, 0.99]) g.set({ quantile: String(q) }, seconds(lag.percentile(q * 100)));
      g.set({ quantile: 'max' }, seconds(lag.max));
      lag.reset();
    }, ['quantile']);

    if (options.commandDuration) this.timeCommands();
  }

  /** The metric names this collector registered. */
  get metricNames(): readonly string[] {
    return this.names;
  }

  /** Stops listening and removes its metrics from the registry. */
  close(): void {
    for (const stop of this.stop.splice(0)) stop();
    this.lag.disable();
    for (const name of this.names) this.options.registry.removeSingleMetric(name);
  }

  private register<T extends Counter<string> | Gauge<string> | Histogram<string>>(metric: T): T {
    const name = (metric as unknown as { name: string }).name;
    if (this.options.registry.getSingleMetric(name)) {
      throw new TypeError(`livehub: the registry already has a metric named ${name}: give metricsHandler another prefix, or close the first one`);
    }
    this.options.registry.registerMetric(metric);
    this.names.push(name);
    return metric;
  }

  /** `command_duration_seconds{type}`: middleware first in the chain, so it times the rest of it. */
  private timeCommands(): void {
    const histogram = this.register(new Histogram({
      name: `${this.options.prefix}command_duration_seconds`, help: 'Inbound commands, from parsing to the end of their middleware, policy and handler; by type (`app`: the app\'s own types).',
      labelNames: ['type'], registers: [], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    }));
    let active = true;
    this.stop.push(() => { active = false; });
    this.hub.use(async (message, _context, next) => {
      if (!active) return next();
      const end = histogram.startTimer({ type: COMMAND_TYPES.has(message.type) ? message.type : 'app' });
      try {
        await next();
      } finally {
        end();
      }
    });
  }
}
