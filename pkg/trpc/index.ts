/**
 * livehub/trpc: the hub as tRPC procedures, typed end to end like the rest of a tRPC app's API.
 * `realtimeRouter(hub, t, { identify })` builds `publish` (a mutation), `presence` and `history`
 * (queries) and `subscribe` (a subscription over Server-Sent Events that resumes from tRPC's
 * `lastEventId` with no loss and no duplicate) with the app's own tRPC instance, so its context and
 * middleware apply; the hub's channel policy decides for each caller. Needs `@trpc/server` 11. See
 * docs/trpc.md.
 */
export { realtimeRouter, type RealtimeRouter, type RealtimeRouterOptions, type TRPCInstance, type PublishOutput, type HistoryOutput } from './router.js';
export type { RealtimeEvent } from './subscription.js';
export type { PublishInput, PresenceInput, HistoryInput, SubscribeInput, StandardSchema } from './schemas.js';
export { TRPC_CODES, RealtimeError, toTRPCError } from './errors.js';
