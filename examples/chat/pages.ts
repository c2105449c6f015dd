import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The chat's pages as the server sends them: the HTML shells around Vite's built entries. */

/** The built pages' entry scripts and stylesheets, from Vite's manifest: the Vue page, the React page, the call page and the dashboard. */
export function readAssets(distDir: string) {
  const manifestPath = join(distDir, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run "npm run build:example" first`);
  const raw = readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(raw) as Record<string, { file: string; css?: string[]; imports?: string[]; isEntry?: boolean }>;
  // An entry's stylesheets include those of the chunks it imports (the pages share chat.css).
  const stylesOf = (key: string, seen: Set<string>): string[] => {
    if (seen.has(key)) return [];
    seen.add(key);
    const chunk = manifest[key];
    return [...(chunk?.imports ?? []).flatMap((imported) => stylesOf(imported, seen)), ...(chunk?.css ?? [])];
  };
  const entry = (src: string) => {
    const chunk = manifest[src];
    if (!chunk?.isEntry) throw new Error(`the Vite manifest has no entry ${src}: run "npm run build:example" again`);
    return { script: `/${chunk.file}`, styles: [...new Set(stylesOf(src, new Set()))].map((css) => `/${css}`) };
  };
  return {
    ...entry('examples/chat/client/main.ts'),
    react: entry('examples/chat/react/main.tsx'),
    call: entry('examples/chat/client/call.ts'),
    dashboard: entry('examples/chat/client/dashboard.ts'),
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

/** A page with its props as JSON (`<` escaped, so no text in them can close the script). */
const propsPage = (entry: Assets['call'], title: string, props: Record<string, unknown>) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title}</title>
  ${entry.styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n  ')}
</head>
<body>
  <script id="props" type="application/json">${JSON.stringify(props).replace(/</g, '\\u003c')}</script>
  <div id="app"></div>
  <script type="module" src="${entry.script}"></script>
</body>
</html>`;

/** The call page (calls.ts). */
export const callPage = (assets: Assets, props: { room: string; [key: string]: unknown }) => propsPage(assets.call, `${props.room}: livehub call`, props);

/** The dashboard (devices.ts): the sensors' readings beside the chat. */
export const dashboardPage = (assets: Assets, props: Record<string, unknown>) => propsPage(assets.dashboard, 'livehub dashboard', props);
