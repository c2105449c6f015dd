import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toChatMessage } from '../../../examples/chat/messages.js';
import { Peer } from '../../helpers.js';
import { cleanup, KEY, startApi } from './fixture.js';

/** examples/chat/publish.ts: a chat message from a script, through the HTTP API, as the page shows it. */

const script = fileURLToPath(new URL('../../../examples/chat/publish.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanup(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples/chat/publish.ts', () => {
  it('posts a message the chat page shows, from AUTHOR, on the chat channel', async () => {
    const api = await startApi();
    const page = await Peer.open(api.ws);
    cleanup(() => page.close());
    await page.subscribe('chat');
    const result = await run(['hello', 'from', 'cron'], { LIVEHUB_URL: api.base, LIVEHUB_API_KEY: KEY, AUTHOR: 'cron' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('published to chat at offset 1\n');
    const delivered = await page.next((m) => m.channel === 'chat');
    expect(toChatMessage(delivered)).toEqual({ id: expect.any(String), author: 'cron', body: 'hello from cron', offset: 1 });
  }, 30_000);

  it('fails with the API\'s error for a wrong key, and with usage when the key or the message is missing', async () => {
    const api = await startApi();
    const wrong = await run(['hello'], { LIVEHUB_URL: api.base, LIVEHUB_API_KEY: 'not-the-key-0123456789' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('HTTP 401: unauthorized: the API key is not valid');
    const noKey = await run(['hello'], { LIVEHUB_URL: api.base });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('LIVEHUB_API_KEY is not set');
    const noMessage = await run([], { LIVEHUB_URL: api.base, LIVEHUB_API_KEY: KEY });
    expect(noMessage.code).toBe(2);
    expect(noMessage.stderr).toContain('the message must be 1-2000 characters');
    expect((await api.call('GET', '/history?channel=chat')).body.position.offset).toBe(0);
  }, 30_000);
});
