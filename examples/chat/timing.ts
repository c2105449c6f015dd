/**
 * The example's timings, shared by the server (how long history must cover) and the page (client
 * options), so the history always covers the page's worst case: they cannot drift apart.
 *
 * A page whose connection dies silently (Wi-Fi gone, a NAT dropped it) shows it stale once a
 * heartbeat is late (`HEARTBEAT_PERIOD + HEARTBEAT_ALLOWANCE`) and drops it when its probe goes
 * unanswered for `HEARTBEAT_TIMEOUT`; it then waits up to `MAX_RECONNECT_DELAY` before its next
 * attempt, whose handshake may take up to `CONNECT_TIMEOUT`. Everything published on the channel in
 * that time must still be in history when it resubscribes, or the page gets a gap.
 */

/** The hub writes a heartbeat to a connection it has written nothing else to for this many ms (hub `heartbeatPeriod`). */
export const HEARTBEAT_PERIOD = 4_000;
/** The page counts its connection stale when nothing came for the period plus this, and probes it (client `heartbeat.allowance`). */
export const HEARTBEAT_ALLOWANCE = 1_000;
/** ...and drops the connection if nothing answers the probe within this many ms (client `heartbeat.timeout`). */
export const HEARTBEAT_TIMEOUT = 3_000;
/** Base of the reconnect backoff (client `reconnect.delay`). */
export const RECONNECT_DELAY = 500;
/** Cap of the reconnect backoff (client `reconnect.maxDelay`): the longest wait before an attempt. */
export const MAX_RECONNECT_DELAY = 30_000;
/** The longest a reconnect's handshake may take before the client gives up on it (`connectTimeout`). */
export const CONNECT_TIMEOUT = 10_000;

/** The longest a page can be away from the channel without a gap, in ms (48 s with the values above). */
export const WORST_OUTAGE = HEARTBEAT_PERIOD + HEARTBEAT_ALLOWANCE + HEARTBEAT_TIMEOUT + MAX_RECONNECT_DELAY + CONNECT_TIMEOUT;

/**
 * Messages per second the chat channel's history is sized for at least (a busy chat room). The server
 * measures the channel's real rate and keeps more when it is busier (measured-history.ts); set
 * `messageRate` (or MESSAGE_RATE) to keep more from the start.
 */
export const MESSAGE_RATE = 200;

/** History kept on the chat channel at least: every message of the worst outage at `rate` (9,600 at 200/s). */
export function historySize(rate = MESSAGE_RATE): number {
  return Math.max(1, Math.ceil((rate * WORST_OUTAGE) / 1000));
}

/**
 * History kept on the chat channel at most, however busy it is (`maxHistory`, MAX_HISTORY): enough
 * for 1,333 messages/s over the worst outage. Past it the server logs that pages may get gaps.
 */
export const MAX_HISTORY = 100_000;

/** How long messages stay in history, which is also how far back the chat shows them. */
export const HISTORY_TTL = 24 * 60 * 60_000;

/** Messages a page shows from the server (on load and after a gap). */
export const PAGE_MESSAGES = 50;
