import { readFileSync } from 'node:fs';

/**
 * A markdown file's checked code blocks (the README's, a guide's). A fenced block right after a line
 * `<!-- checked: NAME -->` is checked as file NAME of a fresh app; blocks with the same NAME are
 * joined in order. The marker may span lines (`<!-- checked: NAME`, lines, `-->`): those lines go
 * before the block, unseen on the page (the declarations a snippet leaves to the reader's app).
 */
export function checkedBlocks(markdownPath: string): Map<string, string> {
  const lines = readFileSync(markdownPath, 'utf8').split('\n');
  const files = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*checked:\s*(\S+)\s*(-->)?\s*$/.exec(lines[i]!);
    if (!marker) continue;
    const name = marker[1]!;
    let prelude = '';
    if (!marker[2]) {
      const close = lines.findIndex((line, at) => at > i && line.trim() === '-->');
      if (close < 0) throw new Error(`${markdownPath} line ${i + 1}: <!-- checked: ${name} is never closed with a line -->`);
      prelude = lines.slice(i + 1, close).join('\n') + '\n';
      i = close;
    }
    if (!/^```\w*\s*$/.test(lines[i + 1] ?? '')) {
      throw new Error(`${markdownPath} line ${i + 1}: <!-- checked: ${name} --> is not followed by a fenced code block`);
    }
    const end = lines.findIndex((line, at) => at > i + 1 && line.startsWith('```'));
    if (end < 0) throw new Error(`${markdownPath} line ${i + 2}: the code block checked as ${name} never ends`);
    files.set(name, (files.get(name) ?? '') + prelude + lines.slice(i + 2, end).join('\n') + '\n');
    i = end;
  }
  return files;
}

/**
 * The packages the README's `install.sh` block installs: every line is `npm install [-D] names…`
 * (after `#` comments are dropped), or this throws naming the line.
 */
export function installedPackages(script: string): string[] {
  const names: string[] = [];
  for (const raw of script.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    if (words[0] !== 'npm' || (words[1] !== 'install' && words[1] !== 'i')) {
      throw new Error(`README install.sh: expected only "npm install" lines, got: ${raw}`);
    }
    names.push(...words.slice(2).filter((word) => !word.startsWith('-')));
  }
  return names;
}
