/** livehub's observability: Prometheus metrics, health endpoints, traces and the live status page. */
export { metricsHandler, type MetricsHandler, type MetricsHandlerOptions } from './prometheus.js';
export { healthHandlers, type HealthHandler, type HealthOptions } from './health.js';
export { traceHub, startPublishSpan, endPublishSpan, deliverySpan, formatTraceparent, parseTraceparent, type TraceHubOptions } from './tracing.js';
export { statusPage, statusChannel, type StatusPageHandler, type StatusPageOptions } from './status-page.js';
export { StatusFeed, STATUS_CHANNEL, type StatusSnapshot, type StatusFeedOptions } from './status.js';
