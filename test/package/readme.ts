import { readFileSync } from 'node:fs';

/**
 * The README's checked code blocks. A fenced block right after a line `<!-- checked: NAME -->` is
 * checked as file NAME of a fresh app; blocks with the same NAME are joined in README order.
 */
export function checkedBlocks(readmePath: string): Map<string, string> {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const files = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*checked:\s*(\S+)\s*-->\s*$/.exec(lines[i]!);
    if (!marker) continue;
    const name = marker[1]!;
    if (!/^```\w*\s*$/.test(lines[i + 1] ?? '')) {
      throw new Error(`README line ${i + 1}: <!-- checked: ${name} --> is not followed by a fenced code block`);
    }
    const end = lines.findIndex((line, at) => at > i + 1 && line.startsWith('```'));
    if (end < 0) throw new Error(`README line ${i + 2}: the code block checked as ${name} never ends`);
    files.set(name, (files.get(name) ?? '') + lines.slice(i + 2, end).join('\n') + '\n');
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
