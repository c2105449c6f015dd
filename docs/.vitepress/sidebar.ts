/**
 * The site's navigation: every hand-written page, in reading order. The API reference's entries are
 * generated with it (docs/api/typedoc-sidebar.json, by scripts/docs-api.ts).
 */

export interface Entry {
  text: string;
  /** The page's source file, from the repository root. */
  file: string;
}

export interface Section {
  text: string;
  items: Entry[];
}

export const sections: Section[] = [
  {
    text: 'Introduction',
    items: [
      { text: 'What livehub is', file: 'README.md' },
      { text: 'Getting started', file: 'docs/guide/getting-started.md' },
      { text: 'The examples', file: 'docs/guide/examples.md' },
      { text: 'Vue, React and Echo', file: 'docs/guide/clients.md' },
    ],
  },
  {
    text: 'Guides',
    items: [
      { text: 'A chat', file: 'docs/guide/chat.md' },
      { text: 'Never losing a message', file: 'docs/guide/delivery.md' },
      { text: 'Notifications to one user', file: 'docs/guide/notifications.md' },
      { text: 'Durable streams and notifications', file: 'docs/guide/durable-streams.md' },
      { text: 'Live dashboards and Inertia', file: 'docs/guide/dashboards.md' },
      { text: 'Presence and typing', file: 'docs/guide/presence.md' },
      { text: 'Calls (WebRTC)', file: 'docs/webrtc.md' },
      { text: 'Sign-in and channel rules', file: 'docs/guide/auth.md' },
      { text: 'Several nodes on Redis', file: 'docs/guide/redis.md' },
      { text: 'SSE and the HTTP API', file: 'docs/guide/sse-and-http.md' },
      { text: 'Handlers, middleware, webhooks', file: 'docs/guide/handlers.md' },
      { text: 'Running it in production', file: 'docs/guide/production.md' },
    ],
  },
  {
    text: 'Coming from',
    items: [
      { text: 'Socket.IO', file: 'docs/guide/from-socket-io.md' },
      { text: 'Pusher and Laravel Echo', file: 'docs/guide/from-pusher.md' },
      { text: 'The Go hub', file: 'docs/guide/from-go.md' },
      { text: 'Renamed in 1.0', file: 'docs/migration.md' },
    ],
  },
  {
    text: 'Reference',
    items: [
      { text: 'API', file: 'docs/api/index.md' },
      { text: 'Defaults and limits', file: 'docs/defaults.md' },
      { text: 'Security', file: 'docs/security.md' },
      { text: 'Authentication and logout', file: 'docs/auth.md' },
      { text: 'Wire protocol', file: 'docs/protocol.md' },
      { text: 'HTTP API', file: 'docs/http-api.md' },
      { text: 'Webhooks', file: 'docs/webhooks.md' },
      { text: 'MQTT for devices', file: 'docs/mqtt.md' },
      { text: 'tRPC', file: 'docs/trpc.md' },
      { text: 'PostgreSQL engine', file: 'docs/postgres.md' },
      { text: 'Operations', file: 'docs/operations.md' },
      { text: 'Benchmarks', file: 'docs/benchmarks.md' },
      { text: 'Changelog', file: 'CHANGELOG.md' },
    ],
  },
  {
    text: 'Contributing',
    items: [
      { text: 'How livehub is built', file: 'docs/architecture.md' },
      { text: 'Working on livehub', file: 'docs/contributing.md' },
    ],
  },
];

/** A source file's address on the site (README.md is the home page). */
export function pageLink(file: string): string {
  if (file === 'README.md') return '/';
  return '/' + file.replace(/(^|\/)index\.md$/, '$1').replace(/\.md$/, '');
}
