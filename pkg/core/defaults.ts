/** The hub's defaults, as documented on each option (options.ts) and in docs. */

export const DEFAULTS = {
  sendBuffer: 256,
  maxBufferedBytes: 4 * 1024 * 1024,
  highWaterMark: 256 * 1024,
  pingPeriod: 25_000,
  pongWait: 25_000 + 8_000,
  heartbeatPeriod: 4_000,
  writeWait: 10_000,
  maxWriteDelay: 200,
  maxMessageSize: 64 * 1024,
  maxFragments: 64,
  eventSourceRetry: 2000,
  handlerTimeout: 10_000,
  maxConnections: 100_000,
  maxConnectionsPerIp: 1000,
  maxConnectionsPerUser: 100,
  maxChannelsPerClient: 128,
  maxPatternsPerClient: 16,
  rateLimit: 100,
  rateLimitBurst: 200,
  maxJsonDepth: 32,
  maxJsonKeys: 1024,
  publishDedupeWindow: 120_000,
  presenceTtl: 30_000,
  historySize: 100,
  historyTtl: 300_000,
} as const;

/** How long a pong may take after a ping: with the default ping period, Centrifugo's 8 s. */
export const PONG_TIMEOUT = DEFAULTS.pongWait - DEFAULTS.pingPeriod;

/** The ping period derived from the pong wait, as gorilla/websocket's chat hub derives it: 9/10 of it. */
export function derivePingPeriod(pongWait: number): number {
  return Math.floor((pongWait * 9) / 10);
}

/**
 * How long a livehub client takes, at most, to find a dead link with the defaults: the hub writes a
 * heartbeat to a connection it has written nothing else to for `heartbeatPeriod` (4 s); the client
 * counts the link stale when nothing has come for that period plus its `heartbeat.allowance` (1 s),
 * probes it with a ping, and drops it when nothing answers within its `heartbeat.timeout` (3 s with a
 * heartbeat period announced): 8 s after the last frame it got, so that with the reconnect's first
 * backoff (under 0.5 s) the client is back within 10 s. The client's figures are its own
 * defaults (client/heartbeat.ts); this is their sum with the hub's period.
 */
export const DEAD_LINK_DETECTION = DEFAULTS.heartbeatPeriod + 1_000 + 3_000;

/**
 * How often the hub's sweep wheel (sweep.ts) turns: a ping, a heartbeat or a pong deadline comes due
 * at most this late. Small against every period, and a turn visits only the connections due in it,
 * so a fine step costs idle connections nothing.
 */
export const SWEEP_STEP = 50;

/** The sweep wheel's step for these periods: `SWEEP_STEP`, or a tenth of the shortest when that is less. */
export function sweepStep(options: { pingPeriod: number; pongWait: number; heartbeatPeriod: number }): number {
  const { pingPeriod, pongWait, heartbeatPeriod } = options;
  return Math.max(1, Math.min(SWEEP_STEP, Math.floor(Math.min(pingPeriod, pongWait - pingPeriod, heartbeatPeriod) / 10)));
}
