import { createInertiaApp } from '@inertiajs/vue3';
import { createLivehub } from 'livehub/vue';
import { createApp, h, type DefineComponent } from 'vue';
import Chat from './Chat.vue';

const pages: Record<string, DefineComponent> = { Chat: Chat as DefineComponent };
const livehub = createLivehub('/ws');

createInertiaApp({
  resolve: (name) => pages[name]!,
  setup({ el, App, props, plugin }) {
    createApp({ render: () => h(App, props) }).use(plugin).use(livehub).mount(el!);
  },
});
