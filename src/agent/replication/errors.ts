/**
 * Errors of the replication routes (statuses from src/api/http-errors.ts): a VM without a
 * replication is `NOT_FOUND` (404), a bad request body or query `REQUEST_INVALID` (400) listing
 * every bad field with its path. Unknown VMs are the driver's `VM_NOT_FOUND` (404), refused
 * state changes (a fenced host, a VM without a process) its `VM_INVALID_STATE` (409).
 */
import { UmbraError } from '../../core/errors.js';

/** The VM exists but has no replication (GET, DELETE, resync, quiesce of a VM never replicated). */
export class ReplicationNotFoundError extends UmbraError {
  constructor(readonly vmId: string) {
    super('NOT_FOUND', `VM ${vmId} has no replication`, { vmId });
    this.name = 'ReplicationNotFoundError';
  }
}

/** One invalid field of a request. */
export interface RequestIssue {
  /** Dotted path such as `target.port` (`chunk` for the query parameter). */
  path: string;
  message: string;
}

/** A request body or query failed validation; `context.issues` lists every invalid field. */
export class ReplicationRequestInvalidError extends UmbraError {
  readonly issues: readonly RequestIssue[];
  constructor(what: string, issues: readonly RequestIssue[], vmId: string) {
    super('REQUEST_INVALID', `invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, {
      vmId,
      path: issues[0]?.path,
      issues,
    });
    this.name = 'ReplicationRequestInvalidError';
    this.issues = issues;
  }
}
