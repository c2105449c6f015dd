import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkedBlocks } from './checked-blocks.js';

const dir = mkdtempSync(join(tmpdir(), 'livehub-blocks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function page(text: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(path, text);
  return path;
}

describe('checked code blocks in a markdown page', () => {
  it('joins the blocks marked with the same name, in order, and leaves unmarked blocks out', () => {
    const files = checkedBlocks(page([
      '<!-- checked: server.ts -->', '```ts', 'const a = 1;', '```',
      '```ts', 'not checked', '```',
      '<!-- checked: server.ts -->', '```ts', 'const b = a;', '```',
    ].join('\n')));
    expect([...files]).toEqual([['server.ts', 'const a = 1;\nconst b = a;\n']]);
  });

  it('puts the lines of a marker that spans lines before its block, unseen on the page', () => {
    const files = checkedBlocks(page([
      '<!-- checked: feed.ts', 'declare const db: { save(x: unknown): Promise<void> };', '-->', '```ts', 'await db.save(1);', '```',
    ].join('\n')));
    expect(files.get('feed.ts')).toBe('declare const db: { save(x: unknown): Promise<void> };\nawait db.save(1);\n');
  });

  it('names the page and line of a marker with no block after it, or never closed', () => {
    const noBlock = page('text\n<!-- checked: a.ts -->\ntext\n');
    expect(() => checkedBlocks(noBlock)).toThrow(`${noBlock} line 2: <!-- checked: a.ts --> is not followed by a fenced code block`);
    const open = page('<!-- checked: a.ts\nconst x = 1;\n```ts\n```\n');
    expect(() => checkedBlocks(open)).toThrow(`${open} line 1: <!-- checked: a.ts is never closed with a line -->`);
  });
});
