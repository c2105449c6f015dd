import { afterAll, describe, expect, it } from 'vitest';
import { Hub } from '../../pkg/index.js';
import { webhooks, type WebhookOptions } from '../../pkg/hooks/index.js';
import { coreOf } from '../../pkg/hub.js';

const base = { url: 'https://app.example/hooks', secret: 'a-webhook-secret-of-some-length' };

describe('webhooks options', () => {
  const hub = new Hub({ logger: false });
  afterAll(() => hub.close());

  function throws(options: unknown, message: RegExp): void {
    expect(() => webhooks(hub, options as WebhookOptions)).toThrow(TypeError);
    expect(() => webhooks(hub, options as WebhookOptions)).toThrow(message);
  }

  it('throws a TypeError naming an unknown option and the closest known one', () => {
    throws({ ...base, batchsize: 10 }, /unknown option 'batchsize' for webhooks\(\); did you mean 'batchSize'\?/);
    throws({ ...base, endpoint: 'x' }, /unknown option 'endpoint'.*valid options are/);
  });

  it('needs a url, http or https', () => {
    throws({ secret: base.secret }, /needs a 'url'/);
    throws({ ...base, url: 'not a url' }, /'url' must be an absolute/);
    throws({ ...base, url: 'ftp://app.example/' }, /http: or https:/);
  });

  it('needs a secret of at least 16 characters', () => {
    throws({ url: base.url }, /needs a 'secret'/);
    throws({ ...base, secret: 'short' }, /'secret' is too short \(5 characters\)/);
  });

  it('refuses numbers out of range, naming the option', () => {
    throws({ ...base, batchSize: 0 }, /'batchSize' must be an integer of at least 1, got 0/);
    throws({ ...base, maxQueue: 1.5 }, /'maxQueue'/);
    throws({ ...base, retries: -1 }, /'retries'/);
    throws({ ...base, timeout: '5000' }, /'timeout' must be an integer of at least 1, got "5000"/);
    throws({ ...base, flushInterval: Number.NaN }, /'flushInterval'/);
    throws({ ...base, batchSize: 10, maxQueue: 5 }, /'maxQueue' \(5\) must be at least 'batchSize' \(10\)/);
    throws({ ...base, retryDelay: 1000, maxRetryDelay: 10 }, /'maxRetryDelay'/);
  });

  it('refuses an empty or unknown events list, and listens to nothing then', () => {
    throws({ ...base, events: [] }, /'events' must be a non-empty array/);
    throws({ ...base, events: 'subscribed' }, /'events' must be a non-empty array/);
    throws({ ...base, events: ['subscribed', 'connection.open'] }, /unknown hub event "connection\.open"/);
    expect(coreOf(hub).events.listening.subscribed).toBe(false);
  });

  it('refuses a fetch that is not a function, and a missing hub', () => {
    throws({ ...base, fetch: 'fetch' }, /'fetch' must be a function/);
    expect(() => webhooks(undefined as never, base)).toThrow(/needs the Hub/);
  });

  it('close() refuses a bad timeout and unknown options', async () => {
    const hooks = webhooks(hub, base);
    expect(() => hooks.close({ timeout: -1 })).toThrow(TypeError);
    expect(() => hooks.close({ timout: 5 } as never)).toThrow(/unknown option 'timout' for webhooks close\(\); did you mean 'timeout'\?/);
    await hooks.close();
  });
});
