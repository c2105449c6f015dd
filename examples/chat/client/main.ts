import { createInertiaApp } from '@inertiajs/vue3';
import { createLivehub } from 'livehub/vue';
import { createApp, h, type DefineComponent } from 'vue';
import Chat from './Chat.vue';

const pages: Record<string, DefineComponent> = { Chat: Chat as DefineComponent };
// The page connects once it knows it may (in JWT mode, after login).
// Messages typed while offline wait in localStorage and go out, once each, when the socket is back.
const livehub = createLivehub('/ws', { autoConnect: false, storage: localStorage });

createInertiaApp({
  resolve: (name) => pages[name]!,
  setup({ el, App, props, plugin }) {
    createApp({ render: () => h(App, props) }).use(plugin).use(livehub).mount(el!);
  },
});
