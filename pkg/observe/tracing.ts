import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { checkKnownOptions } from '../options-check.js';
import type { Hub } from '../hub.js';
import { listen } from './listen.js';

/**
 * Traces with OpenTelemetry's API: without an SDK registered by the app every call here is a no-op.
 *
 * Two parts:
 * - `traceHub(hub)` makes spans from the hub's events: a `livehub publish` span (PRODUCER) for each
 *   publication given a position on this node, child of the context active where `hub.publish` was
 *   called (the event runs in that call's promise chain, so AsyncLocalStorage carries it); and a
 *   `livehub deliver` span (CONSUMER) for each channel's fan-out in a loop turn, linked to the
 *   publish spans of its messages when the event carries their `traceparent`s.
 * - helpers for the publish path: `startPublishSpan` (a span around the engine call whose W3C
 *   `traceparent` travels in the publication, across Redis, to every node) and `deliverySpan`.
 * Span names are fixed; the channel is an attribute (`messaging.destination.name`).
 */

export const TRACER_NAME = 'livehub';

export interface TraceHubOptions {
  /** The tracer to use (default: `trace.getTracer('livehub')` from the globally registered provider). */
  tracer?: Tracer;
}

/** Spans from the hub's events; returns the function that stops. */
export function traceHub(hub: Hub, options: TraceHubOptions = {}): () => void {
  if (options === null || typeof options !== 'object') throw new TypeError('livehub: traceHub options must be an object');
  checkKnownOptions(options, ['tracer'], 'traceHub()');
  const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  if (typeof tracer?.startSpan !== 'function') throw new TypeError('livehub: traceHub tracer must be an OpenTelemetry Tracer');
  // A span around each publish, its traceparent carried in the publication to every node.
  hub.tracePublishes((channel, type) => {
    const { span, traceparent } = startPublishSpan(channel, type, tracer);
    return { traceparent, done: (outcome) => endPublishSpan(span, outcome) };
  });
  const stop = listen(hub, {
    'message.delivered': (e: { channel: string; messages: number; sessions: number; traceparents?: Array<string | undefined> }) => {
      deliverySpan(tracer, e.channel, e.messages, e.sessions, e.traceparents ?? []).end();
    },
  });
  return () => {
    hub.tracePublishes(null);
    stop();
  };
}

/**
 * For the publish path (`Publisher.publishJson`): a span around the engine call, and the
 * `traceparent` to store in the publication so every node's delivery span links to it. Undefined
 * `traceparent` when nothing samples (no SDK): then nothing is added to the publication.
 */
export function startPublishSpan(channel: string, type: string, tracer: Tracer = trace.getTracer(TRACER_NAME)): { span: Span; traceparent: string | undefined } {
  const span = tracer.startSpan('livehub publish', { kind: SpanKind.PRODUCER, attributes: { ...messaging(channel, 'publish'), 'livehub.type': type } }, context.active());
  return { span, traceparent: formatTraceparent(span.spanContext()) };
}

/** Ends a publish span with the engine's answer. */
export function endPublishSpan(span: Span, outcome: { offset: number; epoch: string } | Error): void {
  if (outcome instanceof Error) {
    span.recordException(outcome);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.message });
  } else span.setAttributes({ 'livehub.offset': outcome.offset, 'livehub.epoch': outcome.epoch });
  span.end();
}

/** A channel's fan-out in one loop turn, linked to the publish span of each message that carried a traceparent. */
export function deliverySpan(tracer: Tracer, channel: string, messages: number, sessions: number, traceparents: ReadonlyArray<string | undefined>): Span {
  const links: Link[] = [];
  for (const value of traceparents) {
    const linked = value === undefined ? null : parseTraceparent(value);
    if (linked) links.push({ context: linked });
  }
  // One message: its publish span is the parent (one trace, publish → deliver on every node).
  const parent = links.length === 1 && messages === 1 ? trace.setSpanContext(context.active(), links[0]!.context) : context.active();
  return tracer.startSpan('livehub deliver', {
    kind: SpanKind.CONSUMER,
    attributes: { ...messaging(channel, 'deliver'), 'messaging.batch.message_count': messages, 'livehub.sessions': sessions },
    links,
  }, parent);
}

/** W3C `traceparent` (version 00) of a sampled, valid span context; undefined otherwise. */
export function formatTraceparent(span: SpanContext): string | undefined {
  if (!trace.isSpanContextValid(span) || (span.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** The remote span context of a W3C `traceparent`, or null when it is malformed (never thrown: it came over the wire). */
export function parseTraceparent(value: string): SpanContext | null {
  const match = typeof value === 'string' ? TRACEPARENT.exec(value.trim()) : null;
  if (!match || match[1] === 'ff' || (match[1] === '00' && value.trim().length !== 55)) return null;
  const span: SpanContext = { traceId: match[2]!, spanId: match[3]!, traceFlags: parseInt(match[4]!, 16), isRemote: true };
  return trace.isSpanContextValid(span) ? span : null;
}

function messaging(channel: string, operation: 'publish' | 'deliver'): Record<string, string> {
  return { 'messaging.system': 'livehub', 'messaging.destination.name': channel, 'messaging.operation.type': operation === 'publish' ? 'send' : 'process' };
}
