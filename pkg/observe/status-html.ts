/**
 * The status page itself: one self-contained HTML document (no framework, no external asset) whose
 * script subscribes to the status channel through livehub (WebSocket, or SSE when configured) and
 * aggregates the nodes' snapshots. Everything from the wire is written with textContent, never as
 * HTML: a channel name cannot inject markup.
 */
import { SUBPROTOCOL } from '../protocol/index.js';

export interface PageConfig {
  channel: string;
  /** The hub's WebSocket path (same origin), used when `events` is not set. */
  websocket: string;
  /** The hub's SSE path, when the page should use Server-Sent Events. */
  events: string | null;
  interval: number;
  title: string;
  /** This node's snapshot when the page was served, so it shows numbers at once. */
  initial: unknown;
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderPage(config: PageConfig, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(config.title)}</title>
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; } h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
  .card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .6rem .9rem; min-width: 8rem; }
  .card b { display: block; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  .card span { color: #5b6475; font-size: .8rem; }
  table { border-collapse: collapse; background: #fff; min-width: 30rem; }
  th, td { border: 1px solid #dde1e7; padding: .3rem .6rem; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  .stale td { color: #9aa1ad; } .down { color: #b42318; font-weight: 600; }
  #live { font-size: .8rem; padding: .1rem .5rem; border-radius: 9px; background: #fde2e1; margin-left: .5rem; }
  #live.on { background: #d3f5dc; }
  svg { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
  .legend i { display: inline-block; width: .8rem; height: .25rem; margin: 0 .3rem .2rem 1rem; }
  .legend .pub { background: #2563eb; } .legend .del { background: #16a34a; }
</style>
</head>
<body>
<h1>${escapeHtml(config.title)} <span id="live">connecting</span></h1>
<div class="cards">
  <div class="card"><b id="nodes-count">0</b><span>nodes</span></div>
  <div class="card"><b id="connections">0</b><span>connections</span></div>
  <div class="card"><b id="channels">0</b><span>channels</span></div>
  <div class="card"><b id="publish-rate">0</b><span>published / s</span></div>
  <div class="card"><b id="delivery-rate">0</b><span>delivered / s</span></div>
  <div class="card"><b id="published-total">0</b><span>published</span></div>
  <div class="card"><b id="delivered-total">0</b><span>delivered</span></div>
  <div class="card"><b id="evictions">0</b><span>evictions</span></div>
  <div class="card"><b id="errors">0</b><span>errors</span></div>
</div>
<h2>Rates, last 60 snapshots <span class="legend"><i class="pub"></i>published/s<i class="del"></i>delivered/s</span></h2>
<svg id="chart" width="600" height="140" viewBox="0 0 600 140" role="img" aria-label="publish and delivery rates">
  <polyline id="line-published" fill="none" stroke="#2563eb" stroke-width="2" points=""></polyline>
  <polyline id="line-delivered" fill="none" stroke="#16a34a" stroke-width="2" points=""></polyline>
  <text id="chart-max" x="4" y="12" font-size="10" fill="#5b6475">0</text>
</svg>
<h2>Nodes</h2>
<table id="node-table"><thead><tr><th>node</th><th>websocket</th><th>sse</th><th>channels</th><th>users</th><th>published/s</th><th>delivered/s</th><th>evictions</th><th>errors</th><th>engine</th><th>uptime</th></tr></thead><tbody></tbody></table>
<h2>Top channels by publish rate</h2>
<table id="top-channels"><thead><tr><th>channel</th><th>published/s</th></tr></thead><tbody></tbody></table>
<script nonce="${nonce}">
(() => {
  const config = ${scriptJson(config)};
  const nodes = new Map();
  const series = [];
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (Math.round(n * 100) / 100).toLocaleString('en-US');

  function take(snapshot) {
    if (!snapshot || typeof snapshot.node !== 'string') return;
    nodes.set(snapshot.node, { snapshot, seen: Date.now() });
  }

  function row(cells, className) {
    const tr = document.createElement('tr');
    if (className) tr.className = className;
    for (const [text, cls] of cells) {
      const td = document.createElement('td');
      td.textContent = String(text);
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }

  function render() {
    const now = Date.now();
    const sum = { connections: 0, channels: 0, pub: 0, del: 0, published: 0, delivered: 0, evictions: 0, errors: 0 };
    const top = new Map();
    const body = $('node-table').tBodies[0];
    body.textContent = '';
    for (const [id, { snapshot: s, seen }] of [...nodes].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (now - seen > 30 * config.interval) { nodes.delete(id); continue; }
      const stale = now - seen > 3 * config.interval;
      const ws = s.connections.websocket || 0, sse = s.connections.sse || 0;
      let all = 0;
      for (const n of Object.values(s.connections)) all += n;
      sum.connections += all; sum.channels += s.channels;
      sum.published += s.totals.published; sum.delivered += s.totals.delivered;
      sum.evictions += s.totals.evictions; sum.errors += s.totals.errors;
      if (!stale) {
        sum.pub += s.rates.published; sum.del += s.rates.delivered;
        for (const t of s.top) top.set(t.channel, (top.get(t.channel) || 0) + t.rate);
      }
      const tr = row([[id], [ws], [sse], [s.channels], [s.users], [fmt(s.rates.published)], [fmt(s.rates.delivered)],
        [s.totals.evictions], [s.totals.errors], [s.draining ? 'draining' : s.engine, s.engine === 'down' || s.draining ? 'down' : ''],
        [Math.round(s.uptime / 1000) + ' s']], stale ? 'stale' : '');
      tr.dataset.node = id;
      body.appendChild(tr);
    }
    $('nodes-count').textContent = String(body.rows.length);
    $('connections').textContent = fmt(sum.connections);
    $('channels').textContent = fmt(sum.channels);
    $('publish-rate').textContent = fmt(sum.pub);
    $('delivery-rate').textContent = fmt(sum.del);
    $('published-total').textContent = fmt(sum.published);
    $('delivered-total').textContent = fmt(sum.delivered);
    $('evictions').textContent = fmt(sum.evictions);
    $('errors').textContent = fmt(sum.errors);
    const topBody = $('top-channels').tBodies[0];
    topBody.textContent = '';
    for (const [channel, rate] of [...top].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
      const tr = row([[channel], [fmt(rate)]]);
      tr.dataset.channel = channel;
      topBody.appendChild(tr);
    }
    series.push({ pub: sum.pub, del: sum.del });
    if (series.length > 60) series.shift();
    const max = Math.max(1, ...series.map((p) => Math.max(p.pub, p.del)));
    const points = (key) => series.map((p, i) => (i * 10) + ',' + (135 - (p[key] / max) * 120).toFixed(1)).join(' ');
    $('line-published').setAttribute('points', points('pub'));
    $('line-delivered').setAttribute('points', points('del'));
    $('chart-max').textContent = fmt(max) + '/s';
  }

  let attempt = 0;
  function live(on) {
    $('live').textContent = on ? 'live' : 'reconnecting';
    $('live').className = on ? 'on' : '';
  }
  function retry(open) {
    live(false);
    const delay = Math.random() * Math.min(30000, 500 * 2 ** attempt++);
    setTimeout(open, delay);
  }
  function viaWebSocket() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + config.websocket;
    const ws = new WebSocket(url, ${JSON.stringify(SUBPROTOCOL)});
    ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', channel: config.channel, id: 1 }));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'subscribed' && message.channel === config.channel) { attempt = 0; live(true); }
      else if (message.channel === config.channel && message.type === 'snapshot') take(message.data);
      else if (message.type === 'error') $('live').textContent = 'refused: ' + message.code;
    };
    ws.onclose = () => retry(viaWebSocket);
  }
  function viaEventSource() {
    const source = new EventSource(config.events + (config.events.includes('?') ? '&' : '?') + 'channel=' + encodeURIComponent(config.channel));
    source.addEventListener('livehub', (event) => {
      const reply = JSON.parse(event.data);
      if (reply.type === 'subscribed' && reply.channel === config.channel) live(true);
      else if (reply.type === 'error') $('live').textContent = 'refused: ' + reply.code;
    });
    source.addEventListener('snapshot', (event) => take(JSON.parse(event.data).data));
    source.onerror = () => live(false);
  }
  take(config.initial);
  render();
  setInterval(render, config.interval);
  if (config.events) viaEventSource(); else viaWebSocket();
})();
</script>
</body>
</html>
`;
}
