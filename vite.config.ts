import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Source aliases, so the example and the tests use livehub's source as users use the package. */
export const alias = [
  { find: /^livehub\/client$/, replacement: here('./client/index.ts') },
  { find: /^livehub\/vue$/, replacement: here('./client/vue.ts') },
  { find: /^livehub\/react$/, replacement: here('./client/react/index.ts') },
  { find: /^livehub\/echo$/, replacement: here('./client/echo/index.ts') },
  { find: /^livehub\/inertia\/vue$/, replacement: here('./client/inertia.ts') },
  { find: /^livehub\/inertia$/, replacement: here('./pkg/inertia/index.ts') },
  { find: /^livehub\/transport$/, replacement: here('./pkg/transport/index.ts') },
  { find: /^livehub\/engine$/, replacement: here('./pkg/engine/index.ts') },
  { find: /^livehub\/redis$/, replacement: here('./pkg/engine/redis-index.ts') },
  { find: /^livehub\/postgres$/, replacement: here('./pkg/engine/postgres-index.ts') },
  { find: /^livehub\/schema$/, replacement: here('./pkg/schema/index.ts') },
  { find: /^livehub\/webhooks$/, replacement: here('./pkg/hooks/index.ts') },
  { find: /^livehub\/observe$/, replacement: here('./pkg/observe/index.ts') },
  { find: /^livehub\/mqtt$/, replacement: here('./pkg/transport/mqtt/index.ts') },
  { find: /^livehub\/webrtc\/client$/, replacement: here('./client/webrtc/index.ts') },
  { find: /^livehub\/webrtc\/vue$/, replacement: here('./client/webrtc/vue.ts') },
  { find: /^livehub\/webrtc\/react$/, replacement: here('./client/webrtc/react.ts') },
  { find: /^livehub\/trpc$/, replacement: here('./pkg/trpc/index.ts') },
  { find: /^livehub\/webrtc$/, replacement: here('./pkg/webrtc/index.ts') },
  { find: /^livehub$/, replacement: here('./pkg/index.ts') },
];

// `vite build` builds the example chat's pages (Vue at /, React at /react, the call page at /call, the dashboard at /dashboard); vitest reads `test`.
export default defineConfig({
  plugins: [vue(), react()],
  resolve: { alias },
  build: {
    outDir: here('./examples/chat/dist'),
    emptyOutDir: true,
    manifest: true,
    rollupOptions: {
      input: { main: here('./examples/chat/client/main.ts'), react: here('./examples/chat/react/main.tsx'), call: here('./examples/chat/client/call.ts'), dashboard: here('./examples/chat/client/dashboard.ts') },
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
