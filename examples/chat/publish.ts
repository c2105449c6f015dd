/**
 * Posts a chat message through livehub's HTTP API, as another service would (no WebSocket):
 *
 *   LIVEHUB_API_KEY=<the server's key> node --import tsx examples/chat/publish.ts "hello"
 *
 * The open pages show it at once, as from `AUTHOR`. Environment: `LIVEHUB_API_KEY` (required: the key
 * the server was started with), `LIVEHUB_URL` (default http://localhost:3000/api), `AUTHOR` (default
 * `script`), `CHANNEL` (default `chat`; `private-chat` for a server started with AUTH=jwt).
 *
 * The message's id is also the publish's `id`, so a retry after a failure (503) never shows it twice.
 */
import { randomUUID } from 'node:crypto';
import { isValidName, MAX_BODY, NAME_RULE, parseMessage } from './messages.js';

const usage = 'usage: LIVEHUB_API_KEY=<key> node --import tsx examples/chat/publish.ts "message"';
const key = process.env.LIVEHUB_API_KEY;
const base = (process.env.LIVEHUB_URL ?? 'http://localhost:3000/api').replace(/\/$/, '');
const author = process.env.AUTHOR ?? 'script';
const channel = process.env.CHANNEL ?? 'chat';

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

if (!key) fail(`LIVEHUB_API_KEY is not set: use the key the chat server was started with\n${usage}`, 2);
if (!isValidName(author)) fail(`AUTHOR: ${NAME_RULE}`, 2);
// The chat page shows `message`s whose data is {id, body, author} (see messages.ts).
const message = parseMessage({ id: randomUUID(), body: process.argv.slice(2).join(' ') });
if (!message) fail(`the message must be 1-${MAX_BODY} characters, not only spaces\n${usage}`, 2);

const request = { channel, type: 'message', data: { ...message, author }, id: message.id };
for (let attempt = 1; ; attempt++) {
  let response: Response;
  try {
    response = await fetch(`${base}/publish`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
      body: JSON.stringify(request),
    });
  } catch (error) {
    fail(`cannot reach ${base}: ${(error as Error).cause ?? (error as Error).message} (is the chat server running? npm start)`);
  }
  const answer = await response.json().catch(() => null) as { offset?: number; error?: { code: string; message: string } } | null;
  if (response.ok) {
    console.log(`published to ${channel} at offset ${answer?.offset}`);
    break;
  }
  // 503: the engine is down for now; the same id makes the retry safe. Anything else will not improve.
  if (response.status === 503 && attempt < 3) {
    const wait = Number(response.headers.get('retry-after') ?? 1);
    console.error(`${answer?.error?.message ?? response.statusText}; retrying in ${wait} s`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    continue;
  }
  fail(`HTTP ${response.status}: ${answer?.error ? `${answer.error.code}: ${answer.error.message}` : response.statusText}`);
}
