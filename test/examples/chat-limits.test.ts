import { describe, expect, it } from 'vitest';
import { endlessBody } from '../helpers.js';
import { chatServers } from './chat.js';

const { start } = chatServers();

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
