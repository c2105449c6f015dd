import type { RequestId, ServerReply } from '../pkg/protocol.js';
import { LiveError } from './errors.js';

/**
 * Sends a request (`send`) and settles with the reply carrying `id`: resolved with `read(reply)`,
 * rejected with a LiveError on an error frame or when nothing answers within `timeout` ms.
 */
export function awaitReply<T>(
  listen: (listener: (reply: ServerReply) => void) => () => void,
  id: RequestId, channel: string, timeout: number, read: (reply: ServerReply) => T, send: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new LiveError('timeout', 'no answer in time', channel)); }, timeout);
    const stop = listen((reply) => {
      if (!('id' in reply) || reply.id !== id) return;
      clearTimeout(timer);
      stop();
      if (reply.type === 'error') reject(new LiveError(reply.code, reply.message, reply.channel ?? channel));
      else resolve(read(reply));
    });
    send();
  });
}
