import type { RequestId, ServerReply } from '../protocol/index.js';
import type { HistoryResult, Publication, StreamPosition } from '../engine/engine.js';
import type { Held } from './batch.js';
import type { PatternWork } from './patterns.js';
import type { Session } from './session.js';

/** Work for the loop. One FIFO keeps register, unregister, subscribe and broadcast in arrival order. */
export type Command =
  | { kind: 'register'; session: Session }
  | { kind: 'unregister'; session: Session }
  | { kind: 'subscribe'; session: Session; channel: string; id?: RequestId; since?: StreamPosition; filter?: Record<string, string> }
  | { kind: 'unsubscribe'; session: Session; channel: string; id?: RequestId }
  | { kind: 'publication'; publication: Publication }
  | { kind: 'reset'; channel: string; position: StreamPosition }
  | { kind: 'recovered'; session: Session; channel: string; id?: RequestId; since?: StreamPosition; result: HistoryResult | null; hold: Held[] }
  | { kind: 'reply'; session: Session; reply: ServerReply }
  | { kind: 'close'; session: Session; code: number; reason: string }
  | { kind: 'disconnect-user'; userId: string; reason: string }
  | PatternWork;
