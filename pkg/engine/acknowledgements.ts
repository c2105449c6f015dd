import type { StreamPosition } from '../protocol/index.js';

/**
 * Acknowledged streams, the engine's part: one position per user and channel that says how far the
 * user has handled the channel, on whichever device. The hub keeps a user's personal channel
 * (`user:<id>`, what `hub.sendToUser` writes) this way: the unread count is the head minus the
 * acknowledgement, and any device resumes from it.
 *
 * An engine that keeps acknowledgements implements both `Engine.acknowledge` and
 * `Engine.acknowledged`; the conformance suite (conformance-acks.ts) checks them.
 */

/** Where a user's acknowledgement of a channel stands. */
export interface AcknowledgedState {
  /** The channel's head: its last offset and its epoch. */
  head: StreamPosition;
  /**
   * The offset the user acknowledged in `head.epoch` (0 when none, or when the acknowledgement was
   * of an earlier epoch: that history is gone).
   */
  acknowledged: number;
}

/** The answer of `Engine.acknowledge`. */
export interface Acknowledgement extends AcknowledgedState {
  /** True when the stored acknowledgement moved forward. */
  moved: boolean;
  /**
   * Set when nothing was stored: `'epoch'`, the position is of another epoch than the channel's;
   * `'ahead'`, its offset is past the head.
   */
  refused?: 'epoch' | 'ahead';
}

/** The unread count of a state: the head minus the acknowledgement. */
export function unreadOf(state: AcknowledgedState): number {
  return Math.max(0, state.head.offset - state.acknowledged);
}

/**
 * Decides an acknowledgement from where the channel and the stored acknowledgement stand, for
 * engines that hold both in one place (the memory engine; the Redis and PostgreSQL engines decide the
 * same in their atomic script and function).
 */
export function decideAcknowledgement(head: StreamPosition, stored: StreamPosition | undefined, position: StreamPosition): Acknowledgement {
  const acknowledged = stored !== undefined && stored.epoch === head.epoch ? stored.offset : 0;
  if (position.epoch !== head.epoch) return { head, acknowledged, moved: false, refused: 'epoch' };
  if (position.offset > head.offset) return { head, acknowledged, moved: false, refused: 'ahead' };
  if (position.offset <= acknowledged && stored?.epoch === head.epoch) return { head, acknowledged, moved: false };
  return { head, acknowledged: position.offset, moved: position.offset > acknowledged };
}
