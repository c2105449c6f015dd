/**
 * One remote peer of a call: the app's `RTCPeerConnection` driven by the "perfect negotiation"
 * pattern (W3C WebRTC, §10.7): either side may start a negotiation at any time (adding a track or a
 * data channel fires `negotiationneeded`); when both offer at once, the polite peer rolls its offer
 * back and takes the other's, the impolite one ignores the other's. Which peer is polite is decided
 * by the two peer ids alone, so both agree without a word. The first negotiation of a pair never
 * collides: the impolite peer starts it (with an offer even when it has nothing to add yet) and the
 * polite one holds its own offer until it has answered that one, since rolling an offer back while
 * its candidates are still being gathered can leave Chromium's ICE agent without any, and the pair
 * never connects. Candidates trickle as they come, and a connection whose ICE fails restarts ICE.
 */

/** What travels in a signal between two peers. */
export interface NegotiationSignal {
  description?: RTCSessionDescriptionInit;
  /** null: the end of candidates. */
  candidate?: RTCIceCandidateInit | null;
}

export type PeerConnectionState = RTCPeerConnectionState;

export class Negotiation {
  private makingOffer = false;
  private ignoreOffer = false;
  /** Signals are applied one after the other, in the order they arrived. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** Whether the pair has had its first offer (the impolite peer's); until then the polite peer holds its own. */
  private opened = false;
  /** The polite peer wanted to offer before the first offer came: it offers once that one is answered. */
  private held = false;

  constructor(
    readonly pc: RTCPeerConnection,
    readonly polite: boolean,
    private readonly send: (signal: NegotiationSignal) => void,
    private readonly fail: (error: Error) => void,
  ) {
    pc.addEventListener('negotiationneeded', this.negotiate);
    pc.addEventListener('icecandidate', this.candidate);
    pc.addEventListener('iceconnectionstatechange', this.iceState);
  }

  /** Applies a signal from the remote peer (after those that came before it). */
  receive(signal: NegotiationSignal): void {
    this.queue = this.queue.then(() => this.apply(signal)).catch((error: unknown) => this.fail(error as Error));
  }

  /** Starts the first negotiation of the pair, on the impolite side (after the app added its tracks and channels). */
  start(): void {
    if (this.polite || this.opened) return;
    this.opened = true;
    void this.negotiate();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.removeEventListener('negotiationneeded', this.negotiate);
    this.pc.removeEventListener('icecandidate', this.candidate);
    this.pc.removeEventListener('iceconnectionstatechange', this.iceState);
    this.pc.close();
  }

  private readonly negotiate = async () => {
    if (this.closed) return;
    if (!this.opened) {
      this.held = true;
      return;
    }
    if (this.makingOffer || this.pc.signalingState !== 'stable') return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      if (this.pc.localDescription) this.send({ description: this.pc.localDescription.toJSON() });
    } catch (error) {
      if (!this.closed) this.fail(error as Error);
    } finally {
      this.makingOffer = false;
    }
  };

  private readonly candidate = ({ candidate }: RTCPeerConnectionIceEvent) => {
    this.send({ candidate: candidate ? candidate.toJSON() : null });
  };

  private readonly iceState = () => {
    if (this.pc.iceConnectionState === 'failed') this.pc.restartIce();
  };

  private async apply({ description, candidate }: NegotiationSignal): Promise<void> {
    if (this.closed) return;
    if (description) {
      const collision = description.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await this.pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        await this.pc.setLocalDescription();
        if (this.pc.localDescription) this.send({ description: this.pc.localDescription.toJSON() });
        if (!this.opened) {
          this.opened = true;
          if (this.held) void this.negotiate();
        }
      }
    } else if (candidate !== undefined) {
      try {
        await this.pc.addIceCandidate(candidate ?? undefined);
      } catch (error) {
        // Candidates of an offer this side ignored cannot be added; any other failure is real.
        if (!this.ignoreOffer) throw error;
      }
    }
  }
}
