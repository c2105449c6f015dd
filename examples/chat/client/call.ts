import { createLivehub } from 'livehub/vue';
import { createApp } from 'vue';
import { isValidName } from '../messages.js';
import Call from './Call.vue';

// The call page (GET /call?room=<name>, calls.ts): its props come in the page as JSON. Open mode:
// the name chosen on the chat page rides on the socket URL, as there.
const props = JSON.parse(document.getElementById('props')!.textContent!) as Record<string, unknown>;
let name = localStorage.getItem('livehub.author');
if (!isValidName(name)) localStorage.setItem('livehub.author', (name = `guest-${Math.random().toString(36).slice(2, 6)}`));

createApp(Call, { ...props, name }).use(createLivehub(`/ws?name=${encodeURIComponent(name)}`)).mount('#app');
