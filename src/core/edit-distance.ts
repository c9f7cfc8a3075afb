/**
 * Edit distance and nearest-word lookup, for "did you mean" hints on misspelt config keys and
 * criteria names. Each caller keeps its own rule for how close is close enough.
 */

/** Levenshtein distance (small strings only: keys and names; O(|a|·|b|)). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The word of `known` nearest to `word` (the first of equals) and its distance; undefined when `known` is empty. */
export function closest(word: string, known: Iterable<string>): { match: string; distance: number } | undefined {
  let best: { match: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(word, k);
    if (best === undefined || d < best.distance) best = { match: k, distance: d };
  }
  return best;
}
