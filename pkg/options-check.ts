/**
 * Unknown options throw: a misspelt option (`orgins`) silently ignored is a bug the user never sees.
 * `checkKnownOptions` names the unknown option and the closest valid one.
 */

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= t.length; j++) {
      if (i === 0) { rows[0]!.push(j); continue; }
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(best);
    }
  }
  return rows[s.length]![t.length]!;
}

/** The valid name closest to `name`, when it is close enough to be a likely typo. */
export function closestOption(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) { best = candidate; bestDistance = distance; }
  }
  // A typo changes a few characters; further than that, a suggestion would only mislead.
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Throws a TypeError for the first own key of `options` not in `known`, e.g.
 * `livehub: unknown option 'orgins' for new Hub(); did you mean 'origins'?`. `where` names the call
 * (`new Hub()`, `new RedisEngine()`). `undefined` or `null` options pass.
 */
export function checkKnownOptions(options: object | null | undefined, known: readonly string[], where: string): void {
  if (options === null || options === undefined) return;
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const closest = closestOption(name, known);
    const hint = closest !== undefined
      ? `did you mean '${closest}'?`
      : `valid options are ${known.map((k) => `'${k}'`).join(', ')}`;
    throw new TypeError(`livehub: unknown option '${name}' for ${where}; ${hint}`);
  }
}
