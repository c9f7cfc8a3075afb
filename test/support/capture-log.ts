/** A logger for agent tests that keeps every message (with its fields) for the test to look at. */

/** One kept message. */
export interface Logged {
  msg: string;
  fields: Record<string, unknown>;
}

/** `log` writes into `logged` (debug is dropped). */
export function capturingLog(): { logged: Logged[]; log: { debug: () => void; info: (fields: object, msg: string) => void; warn: (fields: object, msg: string) => void; error: (fields: object, msg: string) => void } } {
  const logged: Logged[] = [];
  const keep = (fields: object, msg: string) => void logged.push({ msg, fields: fields as Record<string, unknown> });
  return { logged, log: { debug: () => undefined, info: keep, warn: keep, error: keep } };
}
