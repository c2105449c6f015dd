/** livehub/webhooks: the hub's lifecycle events POSTed, signed, to the app's URL; and their verification. */
export { webhooks, type Webhooks, type WebhookCounters, type WebhookHub, type CloseOptions } from './webhooks.js';
export { LIFECYCLE_EVENTS, WEBHOOK_DEFAULTS, type WebhookOptions, type WebhookFetch } from './options.js';
export {
  verifyWebhook, signWebhook, WebhookVerificationError, TIMESTAMP_HEADER, SIGNATURE_HEADER, DEFAULT_TOLERANCE,
  type VerifyOptions, type HeadersLike, type WebhookVerificationCode,
} from './signature.js';
export { DELIVERY_HEADER } from './delivery.js';
export type { WebhookEvent, WebhookPayload } from './payload.js';
