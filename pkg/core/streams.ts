import type { Batch, Held } from './batch.js';

/**
 * A client's place in each channel's stream, kept by the hub's loop so that replay and live delivery
 * meet with no gap and no duplicate:
 * - while a subscribe waits for the engine's history answer, live publications of that channel are
 *   held back for the client (`recovering`);
 * - once answered, the client has been given everything up to some offset (`floor`), and later
 *   deliveries at or below it are dropped (they can arrive late: with Redis, publications and history
 *   reads travel on different connections).
 * Both are null for the common client, so the fan-out checks one field.
 */
export class ClientStreams {
  recovering: Map<string, Held[]> | null = null;
  /**
   * Channel and floor pairs, flat: `[channel, offset, channel, offset, ...]`. A floor lasts until the
   * channel's first delivery after the subscribe, so a client rarely has more than a few, and an idle
   * subscriber keeps its one: a Map would cost it about 200 bytes, this array about 60.
   */
  floors: Array<string | number> | null = null;

  /**
   * Starts holding back live publications of `channel`. Returns the hold: a subscribe's answer
   * releases its own hold only, never one a later subscribe of the same channel started.
   */
  hold(channel: string): Held[] {
    const held: Held[] = [];
    (this.recovering ??= new Map()).set(channel, held);
    return held;
  }

  /**
   * Stops holding back; returns what was held, or undefined if nothing was being held (or, given
   * `hold`, if that hold is no longer the channel's).
   */
  release(channel: string, hold?: Held[]): Held[] | undefined {
    const held = this.recovering?.get(channel);
    if (held === undefined || (hold !== undefined && held !== hold)) return undefined;
    this.recovering!.delete(channel);
    if (this.recovering!.size === 0) this.recovering = null;
    return held;
  }

  /** Records that the client has everything of `channel` up to `offset`. */
  setFloor(channel: string, offset: number): void {
    // Built at its exact size: a push would give every idle subscriber room for 16 more elements.
    const floors = this.floors;
    if (floors === null) {
      this.floors = [channel, offset];
      return;
    }
    const at = floors.indexOf(channel);
    if (at >= 0) floors[at + 1] = offset;
    else this.floors = floors.concat(channel, offset);
  }

  forget(channel: string): void {
    this.release(channel);
    const at = this.floors?.indexOf(channel) ?? -1;
    if (at >= 0) this.dropFloorAt(at);
  }

  private dropFloorAt(at: number): void {
    this.floors!.splice(at, 2);
    if (this.floors!.length === 0) this.floors = null;
  }

  /**
   * Routes a batch of one channel's publications for this client: 'all' to send the shared frames,
   * 'none' to send nothing, or the index from which on the offsets are above the floor (they ascend,
   * so that is a suffix), to encode for this client alone.
   */
  route(channel: string, batch: Pick<Batch, 'offsets' | 'payloads' | 'publications'>): 'all' | 'none' | number {
    const { offsets } = batch;
    const held = this.recovering?.get(channel);
    if (held) {
      for (let i = 0; i < offsets.length; i++) held.push({ publication: batch.publications[i]!, payload: batch.payloads[i]! });
      return 'none';
    }
    // Offsets are numbers and channels strings, so indexOf finds only a channel.
    const at = this.floors?.indexOf(channel) ?? -1;
    if (at < 0) return 'all';
    const floor = this.floors![at + 1] as number;
    if (offsets[offsets.length - 1]! <= floor) return 'none';
    this.dropFloorAt(at);
    if (offsets[0]! > floor) return 'all';
    let from = 1;
    while (offsets[from]! <= floor) from++;
    return from;
  }
}
