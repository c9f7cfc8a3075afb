/**
 * The agent's logger: pino-compatible (fields first, then a fixed message). Secrets (the bearer
 * token) are never passed as fields.
 */

/** The logging calls the agent makes (a pino logger satisfies it). */
export interface AgentLogger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** A logger that drops everything (tests). */
export const silentLogger: AgentLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** The message of an error, for a log field (never its stack: logs stay one line). */
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
