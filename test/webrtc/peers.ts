/** Test peers that speak the signalling requests over a real WebSocket, and hubs with signalling on. */
import type { IncomingMessage } from 'node:http';
import { Peer } from '../helpers.js';

let ids = 0;

/** Who a test connection is: `?user=<id>` on the URL, anonymous without it. */
export const byQuery = (request: IncomingMessage) => {
  const user = new URL(request.url ?? '/', 'http://x').searchParams.get('user');
  return user ? { userId: user } : null;
};

/** A WebSocket peer that sends requests and awaits their answers (reply or error frame). */
export class SignalPeer extends Peer {
  /** This connection's peer id, once it joined a room. */
  id = '';

  static async as(url: string, user?: string): Promise<SignalPeer> {
    const peer = new SignalPeer(user ? `${url}?user=${encodeURIComponent(user)}` : url);
    await new Promise<void>((resolve, reject) => {
      peer.ws.once('open', () => resolve());
      peer.ws.once('error', reject);
    });
    return peer;
  }

  /** Sends `{type, data, id}`; resolves with the reply frame or the error frame answering it. */
  async ask(type: string, data: unknown): Promise<any> {
    const id = `q${++ids}`;
    this.send({ type, data, id });
    return this.next((m) => m.id === id && (m.type === 'reply' || m.type === 'error'));
  }

  async join(room: string): Promise<{ peer: string; peers: Array<{ peer: string; user: string | null }>; iceServers: unknown[] }> {
    const answer = await this.ask('webrtc:join', { room });
    if (answer.type !== 'reply') throw new Error(`join refused: ${JSON.stringify(answer)}`);
    this.id = answer.data.peer;
    return answer.data;
  }

  signal(room: string, to: string, data: unknown): Promise<any> {
    return this.ask('webrtc:signal', { room, to, data });
  }

  /** The next signal this peer got. */
  async signalled(match: (m: any) => boolean = () => true, timeout?: number): Promise<any> {
    return (await this.next((m) => m.type === 'webrtc:signal' && match(m), timeout)).data;
  }
}
