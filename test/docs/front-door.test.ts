import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sections } from '../../docs/.vitepress/sidebar.js';

// The front door: what a newcomer reads first (the README) and finds from it. Links themselves are
// checked by the site's build (npm run docs:build fails on a dead one); this checks what they are.

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const readme = read('README.md');

/** The hand-written pages of the site, from the repository root (the generated reference aside). */
function pages(): string[] {
  const walk = (dir: string): string[] => readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return name === 'api' || name.startsWith('.') ? [] : walk(path);
    return name.endsWith('.md') ? [relative('.', path)] : [];
  });
  return ['README.md', 'CHANGELOG.md', ...walk('docs')];
}

/** The targets of the markdown links in a text (without their #anchors' absence). */
const links = (text: string) => [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);

describe('the README as the front door', () => {
  it('is at most 12 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it('starts with two commands: one runs the example app, one runs every test', () => {
    const quickStart = /## Quick start\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = quickStart.split('\n').filter((line) => line.trim()).map((line) => line.replace(/#.*/, '').trim());
    expect(commands).toEqual(['npm ci && npm start', 'npm test']);
  });

  it('links straight to the guide for sending an event to one user and to the reference of Hub.publish', () => {
    expect(links(readme)).toContain('docs/guide/notifications.md');
    expect(read('docs/guide/notifications.md')).toContain('hub.sendToUser(');
    expect(links(readme)).toContain('docs/api/livehub/classes/Hub.md#publish');
  });
});

describe('the documentation site', () => {
  it('lists every hand-written page in its sidebar, and only pages that exist', () => {
    const listed = sections.flatMap((section) => section.items.map((item) => item.file));
    expect(listed.filter((file) => file !== 'docs/api/index.md').sort()).toEqual(pages().sort());
  });

  it('names nothing of how livehub was made where users read: no seed numbers, rounds, audits or issue numbers', () => {
    const internal = /\bseed\s*(file\s*)?\d|\b(this|previous|last|next) (round|session)\b|\baudit|\bissue\s*#?\d+/i;
    const found = [...pages(), 'examples/chat-minimal/README.md']
      .flatMap((file) => read(file).split('\n').map((line, i) => ({ at: `${file}:${i + 1}`, line })))
      .filter(({ line }) => internal.test(line));
    expect(found).toEqual([]);
  });
});
