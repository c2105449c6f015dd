/**
 * The router factory: `publish`, `presence`, `history` and `subscribe` as tRPC procedures built with
 * the app's own tRPC instance (its context, and its middleware when it passes its own procedure),
 * each a call of the hub's public API. A caller is who `identify(ctx)` says, and the hub's channel
 * policy (`authorize`, `canPublish`, the built-in rules) decides for it exactly as for a client's
 * own publish or subscribe.
 */
import type { AnyTRPCRootTypes, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCRouterBuilder, TRPCSubscriptionProcedure } from '@trpc/server';
import type { Hub } from '../hub.js';
import type { HubMessage, PresenceMember, StreamPosition } from '../protocol/index.js';
import { checkKnownOptions } from '../options-check.js';
import type { Identity, RequestInfo } from '../transport/index.js';
import { refused, toTRPCError } from './errors.js';
import { historyInput, presenceInput, publishInput, subscribeInput, type HistoryInput, type PresenceInput, type PublishInput, type SubscribeInput } from './schemas.js';
import { endpointOf, type Caller } from './endpoint.js';
import { subscription, type RealtimeEvent } from './subscription.js';

/** How the router learns who calls. */
export interface RealtimeRouterOptions<TContext> {
  /**
   * The caller's identity from the procedure's context (after the app's middleware): `{ userId }`
   * of the signed-in user, or null for an anonymous caller. The hub's `authorize` hook sees it as a
   * connection's `identity`. May be async; a throw refuses the call (`UNAUTHORIZED`).
   */
  identify: (ctx: TContext) => Identity | null | Promise<Identity | null>;
  /**
   * The request the hub's hooks see as the connection's (`authorize`'s `request`: headers, cookies,
   * remote address). By default the context's `req` (what tRPC's Node and Express adapters pass
   * `createContext`), else an empty request.
   */
  request?: (ctx: TContext) => RequestInfo | undefined;
  /**
   * The procedure the four procedures are built on: the app's own (`t.procedure.use(auth)`), so its
   * middleware runs before each. @default t.procedure
   */
  procedure?: unknown;
}

/** `publish`'s answer: the message's position in the channel's stream. */
export interface PublishOutput {
  channel: string;
  offset: number;
  epoch: string;
}

/** `history`'s answer, as `hub.history` gives it. */
export interface HistoryOutput {
  position: StreamPosition;
  messages: HubMessage[];
  /** False when history no longer holds all the messages asked for: then none are returned. */
  complete: boolean;
}

type Def<TRoot extends AnyTRPCRootTypes, TInput, TOutput> = { input: TInput; output: TOutput; meta: TRoot['meta']; errorShape: TRoot['errorShape'] };

/** The router `realtimeRouter` builds, mounted in the app's router (`realtime: realtimeRouter(…)`). */
export type RealtimeRouter<TRoot extends AnyTRPCRootTypes> = TRPCBuiltRouter<TRoot, {
  publish: TRPCMutationProcedure<Def<TRoot, PublishInput, PublishOutput>>;
  presence: TRPCQueryProcedure<Def<TRoot, PresenceInput, PresenceMember[]>>;
  history: TRPCQueryProcedure<Def<TRoot, HistoryInput, HistoryOutput>>;
  /** Each event comes as `{ id, data }`: `id` is the stream position tRPC resumes from (`lastEventId`). */
  subscribe: TRPCSubscriptionProcedure<Def<TRoot, SubscribeInput, AsyncIterable<{ id: string; data: RealtimeEvent }, void, any>>>;
}>;

/** What the factory needs of the app's tRPC instance (`initTRPC.context<…>().create()`). */
export interface TRPCInstance<TRoot extends AnyTRPCRootTypes> {
  router: TRPCRouterBuilder<TRoot>;
  procedure: unknown;
}

/** The builder calls the factory makes, untyped: the router's type is `RealtimeRouter`. */
interface Builder {
  input(schema: unknown): Builder;
  mutation(resolver: (opts: { ctx: any; input: any }) => unknown): unknown;
  query(resolver: (opts: { ctx: any; input: any }) => unknown): unknown;
  subscription(resolver: (opts: { ctx: any; input: any; signal: AbortSignal | undefined }) => AsyncIterable<unknown>): unknown;
}

/**
 * A tRPC router for the hub, built with the app's tRPC instance `t`: mount it in the app's router
 * (`t.router({ realtime: realtimeRouter(hub, t, { identify }) })`). See docs/trpc.md.
 */
export function realtimeRouter<TRoot extends AnyTRPCRootTypes, TContext = TRoot['ctx']>(
  hub: Hub, t: TRPCInstance<TRoot>, options: RealtimeRouterOptions<TContext>,
): RealtimeRouter<TRoot> {
  if (t === null || typeof t !== 'object' || typeof t.router !== 'function' || typeof t.procedure !== 'object') {
    throw new TypeError('livehub: realtimeRouter(hub, t, options) needs the app\'s tRPC instance as t (initTRPC.context<…>().create())');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: realtimeRouter needs options with identify(ctx)');
  checkKnownOptions(options, ['identify', 'request', 'procedure'], 'realtimeRouter()');
  const { identify, request = defaultRequest, procedure = t.procedure } = options;
  if (typeof identify !== 'function') throw new TypeError('livehub: realtimeRouter option identify(ctx) must be a function returning the caller\'s { userId } or null');
  if (typeof request !== 'function') throw new TypeError('livehub: realtimeRouter option request(ctx) must be a function returning the request the hub\'s hooks see');
  if (procedure === null || typeof procedure !== 'object' || typeof (procedure as Builder).input !== 'function') {
    throw new TypeError('livehub: realtimeRouter option procedure must be a procedure builder of the same tRPC instance (t.procedure.use(…))');
  }
  const endpoint = endpointOf(hub);
  const base = procedure as Builder;

  const caller = async (ctx: TContext): Promise<Caller> => {
    let identity: Identity | null;
    try {
      identity = await identify(ctx);
    } catch (error) {
      throw refused('unauthorized', `identify(ctx) threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (identity !== null && (typeof identity !== 'object' || typeof identity.userId !== 'string' || identity.userId.length === 0)) {
      throw new TypeError('livehub: identify(ctx) must return { userId: string } or null');
    }
    return { identity, request: request(ctx) ?? EMPTY_REQUEST, clientId: endpoint.callId() };
  };

  const router = t.router({
    publish: base.input(publishInput).mutation(async ({ ctx, input }) => {
      const { channel, type, data, tags, client, exceptSelf } = input as PublishInput;
      const as = await caller(ctx as TContext);
      if (exceptSelf === true && client === undefined) throw refused('bad_request', 'exceptSelf needs client: the connection id of the caller\'s subscription (its subscribed event\'s client)');
      if (client !== undefined) {
        if (as.identity === null) throw refused('forbidden', 'an anonymous caller cannot publish as a connection (client)');
        if (!(await hub.connectedClients(as.identity.userId).catch((error: unknown) => { throw toTRPCError(error); })).includes(client)) {
          throw refused('forbidden', `${client} is not a live connection of user ${JSON.stringify(as.identity.userId)}`);
        }
        as.clientId = client;
      }
      let dataJson: string;
      try {
        dataJson = JSON.stringify(data === undefined ? null : data);
      } catch (error) {
        throw refused('bad_data', `the data could not be encoded as JSON: ${(error as Error).message}`);
      }
      try {
        const position = await endpoint.host.publish(channel, type, dataJson, { ...as, ...(tags ? { tags } : {}), ...(exceptSelf ? { exceptSelf } : {}) });
        return { channel, offset: position.offset, epoch: position.epoch };
      } catch (error) {
        throw toTRPCError(error);
      }
    }),
    presence: base.input(presenceInput).query(async ({ ctx, input }) => {
      const { channel } = input as PresenceInput;
      await mayRead(await caller(ctx as TContext), channel, 'the member list');
      return hub.presenceOf(channel).catch((error: unknown) => { throw toTRPCError(error); });
    }),
    history: base.input(historyInput).query(async ({ ctx, input }) => {
      const { channel, limit } = input as HistoryInput;
      await mayRead(await caller(ctx as TContext), channel, 'the history');
      return hub.history(channel, limit === undefined ? {} : { limit }).catch((error: unknown) => { throw toTRPCError(error); });
    }),
    subscribe: base.input(subscribeInput).subscription(async function* ({ ctx, input, signal }) {
      yield* subscription(endpoint.host, await caller(ctx as TContext), input as SubscribeInput, signal);
    }),
  } as never);
  return router as unknown as RealtimeRouter<TRoot>;

  /** Presence and history are the channel's to whoever may subscribe to it. */
  async function mayRead(as: Caller, channel: string, what: string): Promise<void> {
    const allowed = await endpoint.host.authorize('subscribe', channel, as).catch((error: unknown) => { throw toTRPCError(error); });
    if (!allowed) throw refused('forbidden', `reading ${what} of ${channel} is not allowed: only a caller who may subscribe to it may`);
  }
}

const EMPTY_REQUEST = { headers: {}, url: undefined, method: undefined, socket: undefined } as unknown as RequestInfo;

/** The context's `req`, when it has one (tRPC's Node and Express adapters). */
function defaultRequest(ctx: unknown): RequestInfo | undefined {
  const req = (ctx as { req?: unknown } | null)?.req;
  return req !== null && typeof req === 'object' && typeof (req as { headers?: unknown }).headers === 'object' ? req as RequestInfo : undefined;
}
