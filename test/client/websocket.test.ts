import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { LiveClient } from '../../client/index.js';
import { perTest } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { start, cleanup } = perTest();

afterEach(() => {
  vi.unstubAllGlobals();
});

/**
 * Type-checks user files, as files at the repository root would be: strict, one program for all.
 * Returns each file's errors.
 */
function typeErrors(sources: Record<string, string>): Record<string, string[]> {
  const files = new Map(Object.entries(sources).map(([name, text]) => [`${root}${name}`, text]));
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'], types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => files.get(name) ?? read(name);
  host.fileExists = (name) => files.has(name) || exists(name);
  host.getSourceFile = (name, language, onError, fresh) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile(name, language, onError, fresh) : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  expect(global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return Object.fromEntries([...files.keys()].map((name) => {
    const file = program.getSourceFile(name)!;
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    return [name.slice(root.length), diagnostics.map((d) => `line ${file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)];
  }));
}

describe('the WebSocket implementation', () => {
  it('accepts ws\'s WebSocket class and the browser\'s WebSocket without casts under strict type checking, and refuses other classes', () => {
    const errors = typeErrors({
      'consumer-ok.ts': `
        import { WebSocket as NodeWebSocket } from 'ws';
        import { LiveClient, type LiveClientOptions } from './client/index.js';
        import { useLiveUpdate } from './client/vue.js';
        new LiveClient('ws://localhost/ws', { WebSocket: NodeWebSocket, autoConnect: false });
        new LiveClient('ws://localhost/ws', { WebSocket, autoConnect: false });
        const options: LiveClientOptions = { WebSocket: globalThis.WebSocket };
        export const live = () => useLiveUpdate('ws://localhost/ws', { WebSocket: NodeWebSocket });
        export { options };
      `,
      'consumer-wrong.ts': `
        import { LiveClient } from './client/index.js';
        new LiveClient('ws://localhost/ws', { WebSocket: Date });
      `,
    });
    expect(errors['consumer-ok.ts']).toEqual([]);
    expect(errors['consumer-wrong.ts']).toEqual([expect.stringMatching(/^line 3: .*WebSocketConstructor/s)]);
  }, 60_000);

  it('connects in Node with no WebSocket option and no global WebSocket, loading ws itself', async () => {
    vi.stubGlobal('WebSocket', undefined);
    const s = await start();
    const c = new LiveClient(s.url);
    cleanup(() => c.dispose());
    const seen: unknown[] = [];
    c.on('news', (data) => seen.push(data));
    await expect.poll(() => c.status).toBe('open');
    await expect.poll(() => s.hub.info().channels).toBe(1);
    s.hub.publish('news', 'item', 'hello');
    await expect.poll(() => seen).toEqual(['hello']);
  });

  it('uses globalThis.WebSocket when there is one', async () => {
    const made: string[] = [];
    class Recording extends NodeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        made.push(url);
      }
    }
    vi.stubGlobal('WebSocket', Recording);
    const s = await start();
    const c = new LiveClient(s.url);
    cleanup(() => c.dispose());
    await expect.poll(() => c.status).toBe('open');
    expect(made).toEqual([s.url]);
  });

  it('negotiates the livehub.v1 subprotocol with the hub', async () => {
    const protocols: string[] = [];
    class Recording extends NodeWebSocket {
      constructor(url: string, offered?: string | string[]) {
        super(url, offered);
        this.once('open', () => protocols.push(this.protocol));
      }
    }
    const s = await start();
    const c = new LiveClient(s.url, { WebSocket: Recording });
    cleanup(() => c.dispose());
    await expect.poll(() => protocols).toEqual(['livehub.v1']);
  });
});
