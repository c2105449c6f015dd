import { LivehubProvider } from 'livehub/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { isValidName, type ChatMessage } from '../messages.js';
import { CONNECT_TIMEOUT, HEARTBEAT_ALLOWANCE, HEARTBEAT_TIMEOUT, MAX_RECONNECT_DELAY, RECONNECT_DELAY } from '../timing.js';
import { Chat, type Position } from './Chat.js';
import '../chat.css';

// The React page of the example chat (GET /react), on the same channels as the Vue page, open mode.
// The name rides on the socket URL, as on the Vue page; the server shows it in who-is-online.
let name = localStorage.getItem('livehub.author');
if (!isValidName(name)) localStorage.setItem('livehub.author', (name = `guest-${Math.random().toString(36).slice(2, 6)}`));

const root = createRoot(document.getElementById('app')!);

// History first: the page listens live from the position the history ends at, so nothing
// published meanwhile is lost and nothing shows twice.
async function start() {
  const response = await fetch('/messages', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET /messages answered HTTP ${response.status}`);
  const { messages, position } = await response.json() as { messages: ChatMessage[]; position: Position };
  root.render(
    <StrictMode>
      <LivehubProvider
        url={`/ws?name=${encodeURIComponent(name!)}`}
        options={{
          heartbeat: { allowance: HEARTBEAT_ALLOWANCE, timeout: HEARTBEAT_TIMEOUT },
          reconnect: { delay: RECONNECT_DELAY, maxDelay: MAX_RECONNECT_DELAY },
          connectTimeout: CONNECT_TIMEOUT,
        }}
      >
        <Chat author={name!} history={messages} position={position} />
      </LivehubProvider>
    </StrictMode>,
  );
}

start().catch((error: Error) => {
  root.render(<p role="alert" className="failure">Could not load the chat: {error.message}</p>);
});
