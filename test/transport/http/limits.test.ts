import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cleanup, KEY, OTHER_KEY, startApi } from './fixture.js';

/** The body size limit (413, and reading stops) and the per-key rate limit (429). */

interface RawExchange {
  /** Everything the server answered, as text. */
  response: string;
  /** Body bytes the client managed to hand to its socket before the connection closed. */
  sent: number;
}

/**
 * Sends a POST with `headers` and then up to `total` body bytes (chunked when `chunked`), as fast as
 * the server takes them, until the server closes the connection; resolves with the answer.
 */
function rawPost(port: number, path: string, headers: string[], total: number, chunked: boolean, key = KEY): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    cleanup(() => socket.destroy());
    let response = '';
    let sent = 0;
    let finished = false;
    const finish = () => { if (!finished) { finished = true; resolve({ response, sent }); } };
    socket.on('data', (data) => { response += data.toString('latin1'); });
    socket.on('close', finish);
    socket.on('error', () => {});
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const pump = () => {
      while (sent < total && !socket.destroyed && socket.writable) {
        const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        sent += chunk.length;
        if (!socket.write(frame)) return void socket.once('drain', pump);
      }
    };
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-API-Key: ${key}\r\n${headers.join('\r\n')}\r\n\r\n`, pump);
  });
}

/** The server's side of every connection, to count what it read. */
function serverSockets(server: import('node:http').Server): Socket[] {
  const sockets: Socket[] = [];
  server.on('connection', (socket) => sockets.push(socket));
  return sockets;
}

describe('the body size limit', () => {
  it('answers 413 to a Content-Length over maxBodySize without reading the body, and closes the connection', async () => {
    const api = await startApi({ api: { maxBodySize: 1024 } });
    const sockets = serverSockets(api.server);
    const total = 8 * 1024 * 1024;
    const { response } = await rawPost(api.port, '/api/publish', [`Content-Length: ${total}`], total, false);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response.toLowerCase()).toContain('connection: close');
    expect(response).toContain('{"error":{"code":"too_large","message":"the request body may be at most 1024 bytes (maxBodySize); the request declares 8388608 bytes"}}');
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.bytesRead).toBeLessThan(1024 * 1024);
  });

  it('stops reading a chunked body at maxBodySize, answers 413 and closes the connection', async () => {
    const maxBodySize = 64 * 1024;
    const api = await startApi({ api: { maxBodySize } });
    const sockets = serverSockets(api.server);
    const total = 16 * 1024 * 1024;
    const { response, sent } = await rawPost(api.port, '/api/publish', ['Transfer-Encoding: chunked'], total, true);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain('"code":"too_large"');
    expect(response.toLowerCase()).toContain('connection: close');
    expect(sent).toBeLessThan(total); // the client could not send it all: the connection was closed
    expect(sockets[0]!.bytesRead).toBeLessThan(maxBodySize + 512 * 1024);
  });

  it('takes a body of exactly maxBodySize', async () => {
    const api = await startApi({ api: { maxBodySize: 200 } });
    const body = { channel: 'a', type: 't', data: '' };
    const padded = { ...body, data: 'x'.repeat(200 - JSON.stringify(body).length) };
    expect(JSON.stringify(padded)).toHaveLength(200);
    expect((await api.call('POST', '/publish', padded)).status).toBe(200);
    expect((await api.call('POST', '/publish', { ...padded, data: `${padded.data}x` })).status).toBe(413);
  });

  it('answers a request refused before its body (401, 404) and closes the connection without reading the body', async () => {
    const api = await startApi();
    const sockets = serverSockets(api.server);
    const total = 8 * 1024 * 1024;
    const wrongKey = await rawPost(api.port, '/api/publish', [`Content-Length: ${total}`], total, false, 'wrong-key-0123456789');
    expect(wrongKey.response).toMatch(/^HTTP\/1\.1 401 /);
    expect(wrongKey.response.toLowerCase()).toContain('connection: close');
    const nowhere = await rawPost(api.port, '/api/nowhere', ['Transfer-Encoding: chunked'], total, true);
    expect(nowhere.response).toMatch(/^HTTP\/1\.1 404 /);
    expect(sockets).toHaveLength(2);
    for (const socket of sockets) expect(socket.bytesRead).toBeLessThan(1024 * 1024);
  });
});

describe('the rate limit', () => {
  it('answers 429 with Retry-After once a key has used its burst, and counts each key apart', async () => {
    // One command per 10 s after a burst of 5: the test is never slow enough to earn another.
    const api = await startApi({ api: { key: [KEY, OTHER_KEY], rateLimit: 0.1, rateLimitBurst: 5, maxBatch: 5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await api.call('POST', '/publish', { channel: 'a', type: 't' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await api.call('POST', '/publish', { channel: 'a', type: 't' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('this key sent more than its rate limit of 0.1 commands a second; retry after') });
    expect((await api.call('GET', '/history?channel=a', undefined, { 'X-API-Key': OTHER_KEY })).body.position.offset).toBe(5);
  });

  it('lets a key call again once its bucket has refilled', async () => {
    const api = await startApi({ api: { rateLimit: 1, rateLimitBurst: 5, maxBatch: 5 } });
    const batch = await api.call('POST', '/batch', { commands: Array.from({ length: 5 }, () => ({ method: 'info' })) });
    expect(batch.status).toBe(200);
    expect((await api.call('GET', '/info')).status).toBe(429);
    await expect.poll(async () => (await api.call('GET', '/info')).status, { timeout: 5000, interval: 250 }).toBe(200);
  });

  it('refuses a request that costs more than the burst with 400 saying to split it, never a 429 no wait would end', async () => {
    const api = await startApi({ api: { rateLimit: 0.1, rateLimitBurst: 12, maxBatch: 5 } });
    const channels = Array.from({ length: 5 }, (_, i) => `c${i}`);
    const commands = Array.from({ length: 3 }, () => ({ method: 'broadcast', channels, type: 't' }));
    const refused = await api.call('POST', '/batch', { commands });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(refused.body.error).toEqual({ code: 'bad_request', message: 'this request costs 15 commands (a broadcast counts one per channel), more than this key may send at once (rateLimitBurst 12); split it into smaller requests' });
    // Nothing was published, and it cost nothing: the split requests (1 + 5 + 5 of the 12) pass.
    expect((await api.call('GET', '/history?channel=c0')).body.position.offset).toBe(0);
    for (const command of commands.slice(0, 2)) expect((await api.call('POST', '/broadcast', { channels: command.channels, type: 't' })).status).toBe(200);
  });

  it('counts a batch as its number of commands', async () => {
    const api = await startApi({ api: { rateLimit: 0.1, rateLimitBurst: 5, maxBatch: 5 } });
    expect((await api.call('POST', '/publish', { channel: 'a', type: 't' })).status).toBe(200);
    const batch = await api.call('POST', '/batch', { commands: Array.from({ length: 5 }, () => ({ method: 'publish', channel: 'a', type: 't' })) });
    expect(batch.status).toBe(429);
    // Refused whole: none of it was published, and it cost nothing.
    const history = await api.call('GET', '/history?channel=a');
    expect(history.status).toBe(200);
    expect(history.body.position.offset).toBe(1);
  });
});
