import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type DefaultTheme } from 'vitepress';
import { pageLink, sections } from './sidebar.js';

/**
 * The documentation site: the README is its home page, docs/ holds the guides and the reference
 * pages, docs/api/ the API reference generated from the package's types (`npm run docs:api`).
 * `npm run docs` serves it; `npm run docs:build` builds it and fails on a dead internal link.
 */

const generated = fileURLToPath(new URL('../api/typedoc-sidebar.json', import.meta.url));
if (!existsSync(generated)) {
  throw new Error(`${generated} is missing: run "npm run docs:api" first (npm run docs and docs:build do)`);
}
const api = JSON.parse(readFileSync(generated, 'utf8')) as DefaultTheme.SidebarItem[];

// The guides' sidebar everywhere but in the API reference, whose own sidebar lists its modules (each
// module's page lists its exports: a full tree on every page would make each page 150 KB).
const guides: DefaultTheme.SidebarItem[] = sections.map((section) => ({
  text: section.text,
  items: section.items.map((item) => ({ text: item.text, link: pageLink(item.file) })),
}));
const reference: DefaultTheme.SidebarItem[] = [
  { text: 'API reference', link: pageLink('docs/api/index.md'), items: api.map(({ text, link }) => ({ text, link })) },
  ...guides.filter((section) => section.text === 'Reference'),
];

export default defineConfig({
  title: 'livehub',
  description: 'A real-time hub for Node.js: channels over WebSocket and SSE for Express apps with Vue, React and Inertia front ends.',
  // The repository is the source: the README is the home page, and the links between README,
  // CHANGELOG, docs/ and the examples' READMEs work alike on the site and in the repository.
  srcDir: '..',
  srcExclude: [
    'assembly/**', 'bench/**', 'build/**', 'client/**', 'dist/**', 'pkg/**', 'scripts/**', 'test/**',
    'test-results/**', 'examples/*/dist/**', 'examples/*/client/**', 'examples/*/react/**',
  ],
  rewrites: { 'README.md': 'index.md' },
  cleanUrls: true,
  // A dead link to a page fails the build; http://localhost:3000 is the example app, not a page.
  ignoreDeadLinks: 'localhostLinks',
  // Not the repository's vite.config.ts (the example chat's build), which Vite would find in srcDir.
  // The local search index (every page, the API reference's included) is one 1.1 MB chunk, loaded
  // when the search box opens.
  // Not the examples' pages either, which `vitepress dev` would otherwise scan for dependencies.
  vite: { configFile: false, build: { chunkSizeWarningLimit: 1500 }, optimizeDeps: { entries: ['!examples/**'] } },
  markdown: { languageAlias: { promql: 'sql' } },   // PromQL (docs/operations.md): Shiki has none; SQL is close
  lastUpdated: false,
  themeConfig: {
    nav: [
      { text: 'Guide', link: pageLink('docs/guide/getting-started.md') },
      { text: 'API', link: pageLink('docs/api/index.md') },
      { text: 'Protocol', link: pageLink('docs/protocol.md') },
      { text: 'Changelog', link: pageLink('CHANGELOG.md') },
    ],
    sidebar: { '/docs/api/': reference, '/': guides },
    outline: { level: [2, 3] },
    search: { provider: 'local' },
  },
});
