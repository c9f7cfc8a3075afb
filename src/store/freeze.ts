/**
 * Records a store returns are frozen all the way down, so a caller that changes one by mistake
 * gets a TypeError (in strict mode) instead of silently diverging from the store.
 */

/** Freezes `value` and every plain object or array inside it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value)) return value; // typed arrays cannot be frozen; they are fresh copies
  for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  return Object.freeze(value);
}
