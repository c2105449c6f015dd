import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { chatServers } from './chat.js';

const { start } = chatServers();

/** Sends an endless chunked body to `path`; resolves with what came back once the server closed, and the bytes sent. */
async function endlessBody(port: number, path: string): Promise<{ answer: string; sent: number }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let answer = '';
  let closed = false;
  socket.on('data', (chunk) => { answer += String(chunk); });
  socket.on('error', () => {});
  socket.on('close', () => { closed = true; });
  socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
  let sent = 0;
  // Up to 64 MiB, for as long as the server reads.
  while (!closed && sent < 64 * 1024 * 1024) {
    if (!socket.write(chunk)) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
    sent += 0x4000;
  }
  await expect.poll(() => closed).toBe(true);
  socket.destroy();
  return { answer, sent };
}

describe('the example chat server\'s request bodies', () => {
  it('answers an endless body on its JSON routes with 413 and closes the connection, reading no further than the cap', async () => {
    const chat = await start();
    for (const path of ['/messages', '/login']) {
      const { answer, sent } = await endlessBody(chat.port, path);
      expect(answer, path).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase(), path).toContain('connection: close');
      expect(answer, path).toContain('"code":"too_large"');
      expect(sent, path).toBeLessThan(16 * 1024 * 1024);
    }
  });

  it('still takes a body within the cap', async () => {
    const chat = await start();
    const response = await fetch(`${chat.base}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'ann', body: 'hi' }) });
    expect(response.status).toBe(201);
  });
});
