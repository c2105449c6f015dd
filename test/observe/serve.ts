import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hub, HubOptions } from '../../pkg/index.js';
import { perTest } from '../helpers.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * A hub on a real http.Server (127.0.0.1, port 0, see `startHub`) that also serves the given routes
 * (by path, the query ignored), WebSocket at /ws and SSE at /events; stopped after each test.
 */
export function observedHubs() {
  const { start } = perTest();
  return async function startObserved(options: HubOptions = {}, routes: (hub: Hub) => Record<string, Handler> = () => ({})) {
    let table: Record<string, Handler> = {};
    const started = await start(options, {
      attach: { path: '/ws', eventsPath: '/events' },
      handler: (hub) => {
        table = routes(hub);
        return (request, response) => {
          const route = table[new URL(request.url ?? '/', 'http://x').pathname];
          if (route) route(request, response);
          else { response.writeHead(404); response.end(); }
        };
      },
    });
    return { ...started, routes: table };
  };
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped, label values unescaped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of match[2]?.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) ?? []) {
      labels[key!] = value!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3]!;
    samples.push({ name: match[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return samples;
}

/** Scrapes a /metrics URL; `value(name, labels)` reads one sample (0 when absent). */
export async function scrape(url: string) {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  const text = await response.text();
  const samples = parseMetrics(text);
  return {
    text, samples, contentType: response.headers.get('content-type'),
    value(name: string, labels: Record<string, string> = {}): number {
      const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found?.value ?? 0;
    },
  };
}
