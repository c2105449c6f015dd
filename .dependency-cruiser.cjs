/**
 * The dependency rules of livehub's house (docs/architecture.md explains them): dependencies point
 * down, from the composition root and the leaves to the core's public interfaces, never back.
 * `npm run check:deps` (part of `npm test`) fails on any violation.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycles, between files or folders.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-leaf',
      comment: 'The core (loop, sessions, router, publisher, presence, gate) imports no transport, no engine implementation, no plugin (hooks, observe, inertia, webrtc) and not the composition root.',
      severity: 'error',
      from: { path: '^pkg/core/' },
      to: { path: '^pkg/(transport|hooks|observe|inertia|webrtc)/|^pkg/(hub|index)\\.ts$|^pkg/engine/(?!engine\\.ts$)' },
    },
    {
      name: 'transports-use-the-public-transport-api',
      comment: 'A transport (websocket, sse, http, an app\'s own) reaches the core only through livehub/transport (pkg/transport/index.ts), as an app\'s transport would.',
      severity: 'error',
      from: { path: '^pkg/transport/[^/]+/' },
      to: { path: '^pkg/(core|hooks|observe|inertia)/|^pkg/(hub|index)\\.ts$|^pkg/engine/(?!engine\\.ts$)' },
    },
    {
      name: 'trpc-uses-the-public-api',
      comment: 'livehub/trpc is thin: its procedures call the hub\'s public API and the public transport API, never the core or an engine.',
      severity: 'error',
      from: { path: '^pkg/trpc/' },
      to: { path: '^pkg/(core|engine|hooks|observe|inertia|webrtc)/|^pkg/transport/[^/]+/' },
    },
    {
      name: 'protocol-stands-alone',
      comment: 'The protocol module imports nothing of the project: the browser client imports it.',
      severity: 'error',
      from: { path: '^pkg/protocol/' },
      to: { path: '^(pkg|client)/', pathNot: '^pkg/protocol/' },
    },
    {
      name: 'webrtc-names-stand-alone',
      comment: 'The names WebRTC signalling shares with the browser client import nothing of the project.',
      severity: 'error',
      from: { path: '^pkg/webrtc/names\\.ts$' },
      to: { path: '^(pkg|client)/' },
    },
    {
      name: 'engines-know-no-hub',
      comment: 'Engines implement the engine contract (pkg/engine/engine.ts) and know nothing of the hub above it.',
      severity: 'error',
      from: { path: '^pkg/engine/' },
      to: { path: '^pkg/(core|transport|hooks|observe|inertia)/|^pkg/(hub|index)\\.ts$' },
    },
    {
      name: 'client-imports-only-the-protocol',
      comment: 'The browser client shares the protocol module (and the options check, and the names WebRTC signalling uses) with the server, and nothing else of it.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^pkg/', pathNot: '^pkg/(protocol/|options-check\\.ts$|webrtc/names\\.ts$)' },
    },
    {
      name: 'nothing-imports-tests-or-bench',
      severity: 'error',
      from: { path: '^(pkg|client)/' },
      to: { path: '^(test|bench|examples)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
