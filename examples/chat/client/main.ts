import { createInertiaApp } from '@inertiajs/vue3';
import { createLivehub } from 'livehub/vue';
import { createApp, h, type DefineComponent } from 'vue';
import { isValidName } from '../messages.js';
import { CONNECT_TIMEOUT, HEARTBEAT_ALLOWANCE, HEARTBEAT_TIMEOUT, MAX_RECONNECT_DELAY, RECONNECT_DELAY } from '../timing.js';
import Chat from './Chat.vue';

const pages: Record<string, DefineComponent> = { Chat: Chat as DefineComponent };
// The page connects once it knows it may (in JWT mode, after login).
// Messages typed while offline wait in localStorage and go out, once each, when the socket is back.
// Open mode: the chosen name rides on the socket URL; the server holds every message of that
// connection to it, and shows it in who-is-online (JWT mode uses the logged-in name).
let name = localStorage.getItem('livehub.author');
if (!isValidName(name)) localStorage.setItem('livehub.author', (name = `guest-${Math.random().toString(36).slice(2, 6)}`));
// The timings the server sizes its history against (timing.ts): set here so they cannot drift.
// ?transport=sse (or auto) on the page: the same chat over Server-Sent Events (/events).
const wanted = new URLSearchParams(location.search).get('transport');
const transport = wanted === 'sse' || wanted === 'auto' ? wanted : 'websocket';
const livehub = createLivehub(`/ws?name=${encodeURIComponent(name)}`, {
  transport,
  eventsUrl: `/events?name=${encodeURIComponent(name)}`,
  autoConnect: false,
  outbox: { storage: localStorage },
  heartbeat: { allowance: HEARTBEAT_ALLOWANCE, timeout: HEARTBEAT_TIMEOUT },
  reconnect: { delay: RECONNECT_DELAY, maxDelay: MAX_RECONNECT_DELAY },
  connectTimeout: CONNECT_TIMEOUT,
});

createInertiaApp({
  resolve: (name) => pages[name]!,
  setup({ el, App, props, plugin }) {
    createApp({ render: () => h(App, props) }).use(plugin).use(livehub).mount(el!);
  },
});
