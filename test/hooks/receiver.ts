import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../helpers.js';

/** A request the receiver got: its raw body, headers, and when it arrived. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The parsed body's events. */
  events: Array<{ id: string; type: string; time: string; node: string; data: any }>;
}

/** What the receiver answers the nth request (0-based): a status and headers, or 'hang' (no answer until released). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/** A real HTTP server on 127.0.0.1, port 0, recording webhook requests. */
export async function startReceiver(answer: (index: number) => Answer = () => ({ status: 204 })) {
  const requests: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const index = requests.length;
      requests.push({ headers: req.headers, body, at: Date.now(), events: JSON.parse(body).events });
      const reply = answer(index);
      if (reply === 'hang') { hanging.push(res); return; }
      res.writeHead(reply.status, reply.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    requests,
    /** Every event received, in order of arrival. */
    get events() { return requests.flatMap((r) => r.events); },
    /** Answers the requests left hanging. */
    release(status = 204) { for (const res of hanging.splice(0)) res.writeHead(status).end(); },
    get hanging() { return hanging.length; },
    close: () => closeServer(server),
  };
}
