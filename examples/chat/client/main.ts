import { createInertiaApp } from '@inertiajs/vue3';
import { createLivehub } from 'livehub/vue';
import { createApp, h, type DefineComponent } from 'vue';
import Chat from './Chat.vue';

const pages: Record<string, DefineComponent> = { Chat: Chat as DefineComponent };
// The page connects once it knows it may (in JWT mode, after login).
const livehub = createLivehub('/ws', { autoConnect: false });

createInertiaApp({
  resolve: (name) => pages[name]!,
  setup({ el, App, props, plugin }) {
    createApp({ render: () => h(App, props) }).use(plugin).use(livehub).mount(el!);
  },
});
