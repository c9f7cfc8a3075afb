import { UmbraError } from '../core/errors.js';
import { formatConfigIssues } from './format.js';
import type { ConfigIssue } from './issues.js';
import { loadConfigFile } from './load.js';
import type { UmbraConfig } from './schema.js';

/**
 * A policy file failed validation (code `CONFIG_INVALID`, exit status 2). Carries every issue,
 * not only the first; the message lists them one per line.
 */
export class ConfigInvalidError extends UmbraError {
  readonly issues: readonly ConfigIssue[];
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const first = issues[0];
    super('CONFIG_INVALID', [`invalid policy file ${file}:`, ...formatConfigIssues(file, issues)].join('\n'), {
      file,
      ...(first?.line !== undefined ? { line: first.line } : {}),
      ...(first?.path ? { path: first.path } : {}),
    });
    this.name = 'ConfigInvalidError';
    this.issues = issues;
  }
}

/** Loads a policy file for a process that cannot run without it (the server): throws {@link ConfigInvalidError}. */
export function requireConfigFile(file: string): UmbraConfig {
  const r = loadConfigFile(file);
  if (!r.ok) throw new ConfigInvalidError(file, r.errors);
  return r.config;
}
