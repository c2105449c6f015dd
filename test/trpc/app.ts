/**
 * A tRPC app on a real http.Server (port 0) with livehub/trpc mounted as `realtime`, and tRPC's own
 * client for it: `httpBatchLink` for queries and mutations, `httpSubscriptionLink` (EventSource) for
 * subscriptions. The caller is the user its requests name (`x-user` header, or the subscription's
 * connection params); the hub's WebSocket is at /ws.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClientError } from '@trpc/client';
import type { IncomingMessage } from 'node:http';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { EventSource } from 'eventsource';
import { z } from 'zod';
import type { Hub, HubOptions } from 'livehub';
import { realtimeRouter, type RealtimeEvent } from 'livehub/trpc';
import { perTest } from '../helpers.js';

interface Context {
  user: string | null;
  req: IncomingMessage;
}

const t = initTRPC.context<Context>().create();

/** The app's own middleware: signed-in callers only, their team added to the context. */
const signedIn = t.procedure.use(({ ctx, next }) => {
  if (ctx.user === null) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
  return next({ ctx: { user: ctx.user, team: ctx.user === 'ann' ? 'red' : 'blue' } });
});

/**
 * The app's router: its own procedure (validated with zod) beside the hub's, mounted twice: as
 * `realtime` on the base procedure, and as `members` behind the app's middleware.
 */
export function appRouter(hub: Hub) {
  return t.router({
    greet: t.procedure.input(z.object({ name: z.string() })).query(({ input }) => `hello ${input.name}`),
    realtime: realtimeRouter(hub, t, { identify: (ctx) => (ctx.user ? { userId: ctx.user } : null) }),
    members: realtimeRouter(hub, t, {
      procedure: signedIn,
      identify: (ctx: { user: string; team: string }) => ({ userId: ctx.user, claims: { team: ctx.team } }),
    }),
  });
}

export type AppRouter = ReturnType<typeof appRouter>;

/** A started app: its hub, where its tRPC and WebSocket endpoints are, and the subscription sockets it has open. */
export async function startApp(harness: ReturnType<typeof perTest>, options: HubOptions = {}) {
  const subscriptions = new Set<Socket>();
  const started = await harness.start({ logger: false, ...options }, {
    handler: (hub) => {
      const handler = createHTTPHandler({
        router: appRouter(hub),
        createContext: ({ req, info }) => {
          const user = info.connectionParams?.user ?? req.headers['x-user'];
          return { user: typeof user === 'string' ? user : null, req };
        },
      });
      return (req, res) => {
        if (req.url?.includes('realtime.subscribe')) {
          subscriptions.add(req.socket);
          req.socket.once('close', () => subscriptions.delete(req.socket));
        }
        handler(req, res);
      };
    },
  });
  return {
    ...started,
    subscriptions,
    /** Cuts every open subscription's connection, mid-stream, as a network failure would. */
    cut() {
      for (const socket of subscriptions) socket.destroy();
    },
  };
}

/** tRPC's client for the app at `base`, calling as `user` (null: anonymous). */
export function clientFor(base: string, user: string | null) {
  return createTRPCClient<AppRouter>({
    links: [splitLink({
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url: base, EventSource, connectionParams: user === null ? {} : { user } }),
      false: httpBatchLink({ url: base, headers: user === null ? {} : { 'x-user': user } }),
    })],
  });
}

/**
 * A load balancer in front of several nodes: a TCP proxy at `base` sending each new connection to
 * the node `to` names; `failOver` sends new connections to another node and drops those open to the
 * old one, as when a node goes away.
 */
export async function balancer(first: { base: string }) {
  let target = new URL(first.base);
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    open.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    for (const end of [socket, upstream]) {
      end.on('error', () => {});
      end.once('close', () => { open.delete(end); socket.destroy(); upstream.destroy(); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    failOver(to: { base: string }) {
      target = new URL(to.base);
      for (const socket of open) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => { for (const socket of open) socket.destroy(); server.close(() => resolve()); }),
  };
}

/** A subscription's events as the client got them, its errors, and a way to stop it. */
export class Recorder {
  readonly events: Array<{ id: string; data: RealtimeEvent }> = [];
  readonly errors: TRPCClientError<AppRouter>[] = [];
  started = 0;
  unsubscribe: () => void = () => {};

  /** The messages' offsets, in the order they came. */
  offsets(): number[] {
    return this.events.flatMap((event) => (event.data.kind === 'message' ? [event.data.message.offset!] : []));
  }

  kinds(): string[] {
    return this.events.map((event) => event.data.kind);
  }
}

export function record(client: ReturnType<typeof clientFor>, input: { channel: string; lastEventId?: string; filter?: Record<string, string> }): Recorder {
  const recorder = new Recorder();
  const subscription = client.realtime.subscribe.subscribe(input, {
    onStarted: () => { recorder.started++; },
    onData: (event) => { recorder.events.push(event as { id: string; data: RealtimeEvent }); },
    onError: (error) => { recorder.errors.push(error as TRPCClientError<AppRouter>); },
  });
  recorder.unsubscribe = () => subscription.unsubscribe();
  return recorder;
}
