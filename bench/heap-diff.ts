import { readFileSync } from 'node:fs';

/**
 * What a V8 heap grew by between two snapshots, per connection: nodes grouped by type and name
 * (constructor for objects, function for closures, "(hash table)" and the like for V8's internal
 * arrays), each with its count and bytes per connection. Used by bench/memory.ts.
 *
 *   node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot CONNECTIONS [TOP]
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Group { key: string; count: number; bytes: number }

/** Self size and count by "type name"; an internal array is named after the edge that holds it ("Map.table"). */
export function groups(path: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const { node_fields: nf, node_types: nt, edge_fields: ef, edge_types: et } = snap.snapshot.meta;
  const width = nf.length, ewidth = ef.length;
  const typeAt = nf.indexOf('type'), nameAt = nf.indexOf('name'), sizeAt = nf.indexOf('self_size'), edgesAt = nf.indexOf('edge_count');
  const eType = ef.indexOf('type'), eName = ef.indexOf('name_or_index'), eTo = ef.indexOf('to_node');
  const types = nt[0], etypes = et[0];
  const { nodes, edges, strings } = snap;
  const count = nodes.length / width;
  // Who holds each internal array or hidden node first (its owner's class and the edge name).
  const heldBy = new Array<string | undefined>(count);
  let e = 0;
  for (let i = 0; i < count; i++) {
    const base = i * width;
    const ownerType = types[nodes[base + typeAt]!]!;
    const owner = ownerType === 'object' || ownerType === 'closure' ? strings[nodes[base + nameAt]!]! : `(${ownerType})`;
    for (let k = 0; k < nodes[base + edgesAt]!; k++, e += ewidth) {
      const to = edges[e + eTo]! / width;
      if (heldBy[to] !== undefined) continue;
      const kind = etypes[edges[e + eType]!];
      const name = kind === 'element' || kind === 'hidden' ? String(edges[e + eName]) : strings[edges[e + eName]!];
      heldBy[to] = kind === 'element' || kind === 'hidden' ? `${owner}[]` : `${owner}.${name}`;
    }
  }
  const out = new Map<string, Group>();
  for (let i = 0; i < count; i++) {
    const base = i * width;
    const type = types[nodes[base + typeAt]!]!;
    let name = type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic' ? strings[nodes[base + nameAt]!]! : '';
    if (type === 'array' || type === 'hidden' || type === 'object shape' || type === 'code') name = heldBy[i] ?? strings[nodes[base + nameAt]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    // Plain objects, arrays, strings and numbers say little by themselves: name who holds them.
    if (type === 'string' || type === 'number' || type === 'concatenated string' || type === 'sliced string' ||
      (type === 'object' && (name === 'Object' || name === 'Array')) || (type === 'closure' && name === '')) name += ` ← ${heldBy[i] ?? '?'}`;
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type} ${name}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { key, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += nodes[base + sizeAt]!;
  }
  return out;
}

/** Groups that grew, per connection, largest first. */
export function diff(before: Map<string, Group>, after: Map<string, Group>, connections: number): Group[] {
  const grown: Group[] = [];
  for (const [key, g] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    grown.push({ key, count: (g.count - b.count) / connections, bytes: (g.bytes - b.bytes) / connections });
  }
  return grown.sort((x, y) => y.bytes - x.bytes);
}

/** Node's C++ objects in the snapshot ("Node / TCPSocketWrap"): their memory is native, outside V8's heap. */
const isNative = (key: string) => key.startsWith('synthetic ') || key.startsWith('native ');

export function format(rows: Group[], top: number): string {
  const sum = (native: boolean) => rows.reduce((total, r) => total + (isNative(r.key) === native ? r.bytes : 0), 0);
  const lines = rows.slice(0, top).map((r) => `${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(6)}×  ${r.key}${isNative(r.key) ? ' (native)' : ''}`);
  return `${lines.join('\n')}\n${sum(false).toFixed(0).padStart(7)} B  per connection in V8's heap (self sizes), and ${sum(true).toFixed(0)} B of Node's native objects`;
}

if (process.argv[1]?.endsWith('heap-diff.ts')) {
  const [before, after, n, top] = process.argv.slice(2);
  if (!before || !after || !n) throw new TypeError('usage: heap-diff.ts before.heapsnapshot after.heapsnapshot CONNECTIONS [TOP]');
  console.log(format(diff(groups(before), groups(after), Number(n)), Number(top ?? 40)));
}
