import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliverySpan, endPublishSpan, formatTraceparent, parseTraceparent, startPublishSpan, traceHub } from '../../pkg/observe/tracing.js';
import { Peer } from '../helpers.js';
import { observedHubs } from './serve.js';

const start = observedHubs();
const peers: Peer[] = [];
const stops: Array<() => void> = [];
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of stops.splice(0)) s();
});

/** One node's tracing: its provider and in-memory exporter. */
function node() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer('test') };
}

beforeAll(() => { context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()); });
afterAll(() => { context.disable(); });

describe('traceHub', () => {
  it('makes a publish span, child of the span active where hub.publish was called, and a deliver span for the fan-out', async () => {
    const { exporter, tracer } = node();
    const { hub, url } = await start();
    stops.push(traceHub(hub, { tracer }));
    const p = await Peer.open(url);
    peers.push(p);
    await p.subscribe('orders');
    const request = await tracer.startActiveSpan('POST /orders', async (span) => {
      await hub.publish('orders', 'created', { id: 7 });
      span.end();
      return span.spanContext();
    });
    await p.next((m) => m.channel === 'orders' && m.type === 'created');
    await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === 'livehub deliver')).toBe(true);
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'livehub publish')!;
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.spanContext().traceId).toBe(request.traceId);
    expect(publish.parentSpanContext?.spanId).toBe(request.spanId);
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'livehub', 'messaging.destination.name': 'orders', 'livehub.type': 'created', 'livehub.offset': 1 });
    const deliver = exporter.getFinishedSpans().find((s) => s.name === 'livehub deliver')!;
    expect(deliver.kind).toBe(SpanKind.CONSUMER);
    expect(deliver.attributes).toMatchObject({ 'messaging.destination.name': 'orders', 'messaging.batch.message_count': 1, 'livehub.sessions': 1 });
  });

  it('costs nothing and records nothing without an SDK: spans are non-recording and no traceparent is made', async () => {
    const { hub } = await start();
    stops.push(traceHub(hub));
    await hub.publish('c', 't', 1);
    const { span, traceparent } = startPublishSpan('c', 't');
    expect(span.isRecording()).toBe(false);
    expect(traceparent).toBeUndefined();
  });

  it('throws a TypeError for unknown options or a tracer that is not one', async () => {
    const { hub } = await start();
    expect(() => traceHub(hub, { tracr: null } as never)).toThrow(/unknown option 'tracr' for traceHub\(\); did you mean 'tracer'\?/);
    expect(() => traceHub(hub, { tracer: {} as never })).toThrow(/OpenTelemetry Tracer/);
  });
});

describe('trace context across nodes', () => {
  it('links the delivery span on another node to the publish span through the publication\'s traceparent', () => {
    const a = node();
    const b = node();
    const { span, traceparent } = startPublishSpan('news', 'item', a.tracer);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    endPublishSpan(span, { offset: 3, epoch: 'e1' });
    // Node B delivers one message (parent: the publish span), then a batch of two (links).
    deliverySpan(b.tracer, 'news', 1, 5, [traceparent]).end();
    const other = startPublishSpan('news', 'item', a.tracer);
    other.span.end();
    deliverySpan(b.tracer, 'news', 2, 5, [traceparent, other.traceparent, 'garbage']).end();

    const [published, second] = a.exporter.getFinishedSpans();
    expect(published!.attributes).toMatchObject({ 'livehub.offset': 3, 'livehub.epoch': 'e1' });
    const [single, batch] = b.exporter.getFinishedSpans();
    expect(single!.spanContext().traceId).toBe(published!.spanContext().traceId);
    expect(single!.parentSpanContext?.spanId).toBe(published!.spanContext().spanId);
    expect(batch!.links.map((l) => l.context.spanId)).toEqual([published!.spanContext().spanId, second!.spanContext().spanId]);
  });

  it('marks a failed publish span as an error', () => {
    const a = node();
    const { span } = startPublishSpan('news', 'item', a.tracer);
    endPublishSpan(span, new Error('Redis unreachable'));
    const [failed] = a.exporter.getFinishedSpans();
    expect(failed!.status).toMatchObject({ code: 2, message: 'Redis unreachable' });
    expect(failed!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('parses only valid W3C traceparents, and formats only sampled contexts', () => {
    const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(valid)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
    expect(formatTraceparent(parseTraceparent(valid)!)).toBe(valid);
    for (const bad of ['', 'garbage', `${valid}-extra`, 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01']) {
      expect(parseTraceparent(bad)).toBeNull();
    }
    expect(formatTraceparent({ ...parseTraceparent(valid)!, traceFlags: 0 })).toBeUndefined();
    expect(formatTraceparent(trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }).spanContext())).toBeUndefined();
  });
});

describe('traces across nodes', () => {
  it('links each node\'s delivery span to the publish span on another node, through Redis', async () => {
    const { RedisEngine } = await import('../../pkg/engine/redis.js');
    const { sharedRedisUrl } = await import('../redis.js');
    const url = await sharedRedisUrl();
    const prefix = `trace-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const a = node();
    const b = node();
    const nodeA = await start({ engine: new RedisEngine({ url, prefix }) });
    const nodeB = await start({ engine: new RedisEngine({ url, prefix }) });
    stops.push(traceHub(nodeA.hub, { tracer: a.tracer }), traceHub(nodeB.hub, { tracer: b.tracer }));
    const reader = await Peer.open(nodeB.url);
    peers.push(reader);
    await reader.subscribe('orders');
    await nodeA.hub.publish('orders', 'created', { id: 1 });
    await reader.next((m) => m.channel === 'orders' && m.type === 'created');
    await expect.poll(() => b.exporter.getFinishedSpans().filter((s) => s.name === 'livehub deliver').length).toBeGreaterThan(0);
    const published = a.exporter.getFinishedSpans().find((s) => s.name === 'livehub publish')!;
    expect(published.kind).toBe(SpanKind.PRODUCER);
    const delivered = b.exporter.getFinishedSpans().find((s) => s.name === 'livehub deliver')!;
    const related = [delivered.parentSpanContext?.spanId, ...delivered.links.map((l) => l.context.spanId)];
    expect(related).toContain(published.spanContext().spanId);
    expect(delivered.spanContext().traceId === published.spanContext().traceId || delivered.links.some((l) => l.context.traceId === published.spanContext().traceId)).toBe(true);
  });
});
