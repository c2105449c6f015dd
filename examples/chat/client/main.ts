import { createInertiaApp } from '@inertiajs/vue3';
import { createLivehub } from 'livehub/vue';
import { createApp, h, type DefineComponent } from 'vue';
import Chat from './Chat.vue';

const pages: Record<string, DefineComponent> = { Chat: Chat as DefineComponent };
// The page connects once it knows it may (in JWT mode, after login).
// Messages typed while offline wait in localStorage and go out, once each, when the socket is back.
// The chosen name rides on the socket URL, for who-is-online (JWT mode uses the logged-in name).
let name = localStorage.getItem('livehub.author');
if (!name) localStorage.setItem('livehub.author', (name = `guest-${Math.random().toString(36).slice(2, 6)}`));
const livehub = createLivehub(`/ws?name=${encodeURIComponent(name)}`, { autoConnect: false, storage: localStorage });

createInertiaApp({
  resolve: (name) => pages[name]!,
  setup({ el, App, props, plugin }) {
    createApp({ render: () => h(App, props) }).use(plugin).use(livehub).mount(el!);
  },
});
