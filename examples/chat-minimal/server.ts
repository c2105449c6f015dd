// The smallest livehub chat: an Express server and one Vue component, messages kept in memory.
// `npm run start:minimal`, then open http://localhost:3000 in two windows.
import { join } from 'node:path';
import vue from '@vitejs/plugin-vue';
import express from 'express';
import { Hub } from 'livehub';
import { build } from 'vite';

// Pages may publish on "chat" (the hub refuses what pages publish unless canPublish allows it).
const hub = new Hub({ canPublish: ({ channel }) => channel === 'chat' });
const app = express();
app.get('/ws', hub.handleWebSocket);

// Vite builds the page (index.html and Chat.vue) into dist/, which Express serves.
const root = import.meta.dirname;
await build({
  root,
  configFile: false,
  plugins: [vue()],
  resolve: { tsconfigPaths: true }, // livehub's own source in this repository; harmless in your app
  logLevel: 'warn',
});
app.use(express.static(join(root, 'dist')));

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  const { port } = server.address() as { port: number };
  console.log(`chat-minimal listening on http://localhost:${port}`);
});
