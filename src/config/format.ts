import type { ConfigIssue } from './issues.js';

/**
 * One line per issue, compiler style, so editors can jump to it:
 * `policy.yaml:12:3 policies.shadow_creation_threshold: expected a number between 0 and 1, got 1.5`.
 */
export function formatConfigIssues(file: string, issues: readonly ConfigIssue[]): string[] {
  return issues.map((i) => {
    const where = i.line !== undefined ? `${file}:${i.line}:${i.column ?? 1}` : file;
    return i.path ? `${where} ${i.path}: ${i.message}` : `${where} ${i.message}`;
  });
}
