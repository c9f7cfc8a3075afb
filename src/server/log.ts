/**
 * The server's logger: pino, JSON lines, a fixed message plus fields. The bearer token is never
 * a field; as a second line of defence any field named token or authorization is redacted.
 */
import { pino, type Logger } from 'pino';

/** A pino logger writing through `write` (stderr for the CLI, a buffer in tests). */
export function createServerLogger(opts: { level?: string; write: (line: string) => void }): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component: 'server' },
      redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'], censor: '[redacted]' },
    },
    { write: opts.write },
  );
}

/** A logger that drops everything. */
export const silentLogger = pino({ level: 'silent' });
