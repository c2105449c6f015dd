/**
 * Where persistent MQTT sessions wait while their devices are away. With an engine that keeps
 * records (the memory, Redis and PostgreSQL engines do: `TransportHost.records`), a session is kept
 * there as text (session-codec.ts) until its expiry, so its device resumes it on any node sharing the
 * engine; otherwise it is kept in this process. Either way this node counts the sessions it stored,
 * at most `maxSessions` (the oldest is ended first, logged).
 */
import type { EngineRecords, Reporter } from '../index.js';
import type { MqttVersion } from './packets.js';
import { decodeSession, encodeSession } from './session-codec.js';
import { resumable, type MqttSessionState } from './sessions.js';

interface Kept {
  /** The session, when it is kept in this process (no engine records). */
  state: MqttSessionState | null;
  timer: NodeJS.Timeout;
}

/** The record name of a client's session. */
const recordOf = (clientId: string) => `mqtt-session:${clientId}`;

export class SessionStore {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly maxSessions: number, private readonly reporter: Reporter, private readonly records: EngineRecords | null) {}

  /** How many sessions this node stored that have neither expired nor been resumed here. */
  get size(): number {
    return this.kept.size;
  }

  /**
   * Takes a stored session out of the store to resume it: only by the user it belongs to, and with
   * the protocol version it was made with (its packets are laid out for that version); otherwise the
   * stored session is ended and null is returned. With engine records, of two nodes taking the same
   * session at once one gets it.
   */
  async take(clientId: string, userId: string | null, version: MqttVersion): Promise<MqttSessionState | null> {
    const local = this.forget(clientId);
    if (this.records === null) return local?.state ? resumable(local.state, userId, version, this.reporter) : null;
    let text: string | null;
    try {
      text = await this.records.take(recordOf(clientId));
    } catch (error) {
      this.reporter.report('warn', 'mqtt_session_unavailable',
        `livehub: MQTT client ${JSON.stringify(clientId)} asked to resume its session, but the engine could not be read (${error instanceof Error ? error.message : String(error)}); it starts a clean session (its stored one stays until its expiry)`);
      return null;
    }
    if (text === null) return null;
    const state = decodeSession(text);
    if (state === null) {
      this.reporter.report('warn', 'mqtt_session_not_resumed', `livehub: the stored session of MQTT client ${JSON.stringify(clientId)} could not be read (written by another livehub version?); a clean session was started`);
      return null;
    }
    return resumable(state, userId, version, this.reporter);
  }

  /** Ends a stored session, if any (a clean start). */
  drop(clientId: string): void {
    const local = this.forget(clientId);
    if (this.records === null || local?.state) return;
    Promise.resolve().then(() => this.records!.delete(recordOf(clientId))).catch((error: unknown) => this.failed(clientId, 'ended', error));
  }

  /** Keeps a session for `seconds` after its device went away. */
  keep(state: MqttSessionState, seconds: number): void {
    const { clientId } = state;
    this.forget(clientId);
    const timer = setTimeout(() => { if (this.kept.get(clientId)?.timer === timer) this.kept.delete(clientId); }, seconds * 1000).unref();
    this.kept.set(clientId, { state: this.records === null ? state : null, timer });
    if (this.records !== null) {
      Promise.resolve().then(() => this.records!.put(recordOf(clientId), encodeSession(state), seconds * 1000)).catch((error: unknown) => this.failed(clientId, 'kept', error));
    }
    if (this.kept.size <= this.maxSessions) return;
    const [oldest] = this.kept.keys();
    this.drop(oldest!);
    this.reporter.report('warn', 'mqtt_session_dropped',
      `livehub: the MQTT session of client ${JSON.stringify(oldest)} was ended before its expiry: more than maxSessions (${this.maxSessions}) sessions of devices that are away were stored; the device starts a clean session on its next connection (raise the MqttEndpoint maxSessions option if that many devices are away at once)`,
      undefined, 'mqtt_session_dropped');
  }

  /** The endpoint stops: this node's timers end; sessions kept in the engine stay there until their expiry. */
  clear(): void {
    for (const { timer } of this.kept.values()) clearTimeout(timer);
    this.kept.clear();
  }

  private forget(clientId: string): Kept | null {
    const kept = this.kept.get(clientId);
    if (kept === undefined) return null;
    clearTimeout(kept.timer);
    this.kept.delete(clientId);
    return kept;
  }

  private failed(clientId: string, what: 'kept' | 'ended', error: unknown): void {
    this.reporter.report('warn', 'mqtt_session_unavailable',
      `livehub: the session of MQTT client ${JSON.stringify(clientId)} could not be ${what} in the engine (${error instanceof Error ? error.message : String(error)}); ${what === 'kept' ? 'the device starts a clean session on its next connection' : 'it may be resumed until its expiry'}`);
  }
}
