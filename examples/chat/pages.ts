import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The chat's two pages as the server sends them: the HTML shells around Vite's built entries. */

/** The built pages' entry scripts and stylesheets, from Vite's manifest: the Vue page and the React page. */
export function readAssets(distDir: string) {
  const manifestPath = join(distDir, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run "npm run build:example" first`);
  const raw = readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(raw) as Record<string, { file: string; css?: string[]; isEntry?: boolean }>;
  const entry = (src: string) => {
    const chunk = manifest[src];
    if (!chunk?.isEntry) throw new Error(`the Vite manifest has no entry ${src}: run "npm run build:example" again`);
    return { script: `/${chunk.file}`, styles: (chunk.css ?? []).map((css) => `/${css}`) };
  };
  return {
    ...entry('examples/chat/client/main.ts'),
    react: entry('examples/chat/react/main.tsx'),
    version: createHash('sha256').update(raw).digest('hex').slice(0, 16),
  };
}

export type Assets = ReturnType<typeof readAssets>;

/** The Inertia page's HTML around its page object (`pageScript`). */
export const chatPage = (assets: Assets, pageScript: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>livehub chat</title>
  ${assets.styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n  ')}
</head>
<body>
  ${pageScript}
  <div id="app"></div>
  <script type="module" src="${assets.script}"></script>
</body>
</html>`;

/** The React page (open mode): it reads its history from GET /messages. */
export const reactPage = (assets: Assets) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>livehub chat (React)</title>
  ${assets.react.styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n  ')}
</head>
<body>
  <div id="app"></div>
  <script type="module" src="${assets.react.script}"></script>
</body>
</html>`;
