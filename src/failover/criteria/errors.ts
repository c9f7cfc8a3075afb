import { UmbraError } from '../../core/errors.js';

/**
 * A failover criteria expression that does not parse. `column` is 1-based; `message` is the
 * source line with a caret under the offending place:
 *
 * ```
 * cpu > 9O%
 *       ^ expected a number
 * ```
 *
 * Code `CONFIG_INVALID`: criteria come from the policy file (`umbra config check` reports it).
 */
export class CriteriaError extends UmbraError {
  /** 1-based column of the offending place in `source`. */
  readonly column: number;
  /** What is wrong, without the caret line (e.g. `expected a number`). */
  readonly reason: string;
  /** The whole expression. */
  readonly source: string;
  constructor(source: string, offset: number, reason: string) {
    super('CONFIG_INVALID', caretLine(source, offset, reason), { column: offset + 1, path: 'failover_criteria' });
    this.name = 'CriteriaError';
    this.column = offset + 1;
    this.reason = reason;
    this.source = source;
  }
}

/** `source` + newline + spaces up to `offset` + `^ reason`. Tabs are kept so the caret lines up. */
export function caretLine(source: string, offset: number, reason: string): string {
  // A YAML block scalar may span lines: show it on one line so that the caret lines up.
  const line = source.replace(/\r\n|[\r\n]/g, (m) => ' '.repeat(m.length));
  const pad = line.slice(0, offset).replace(/[^\t]/g, ' ');
  return `${line}\n${pad}^ ${reason}`;
}
