import { createLivehub } from 'livehub/vue';
import { createApp } from 'vue';
import Dashboard from './Dashboard.vue';

// The dashboard (GET /dashboard, devices.ts): its props come in the page as JSON. It only watches, so
// its socket declares no name.
const props = JSON.parse(document.getElementById('props')!.textContent!) as Record<string, unknown>;

createApp(Dashboard, props).use(createLivehub('/ws')).mount('#app');
