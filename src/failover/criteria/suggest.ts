import { closest } from '../../core/edit-distance.js';

/**
 * The closest of `known` to a misspelt `word`, when close enough to be a typo (at most a third of
 * its letters, at least 1, at most 3 edits), or when `word` is a prefix of exactly one (`mem`).
 */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const best = closest(w, known);
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  if (best !== undefined && best.distance <= limit) return best.match;
  const prefixed = known.filter((k) => w.length >= 2 && k.startsWith(w));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
