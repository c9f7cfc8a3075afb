/**
 * Errors of the agent's shadow manager. Existing codes, so the one HTTP status map applies:
 * an unknown shadow is `NOT_FOUND` (404), another spec for an existing shadow `CONFLICT` (409),
 * an invalid request `REQUEST_INVALID` (400, every issue listed in `context.issues`).
 */
import { UmbraError } from '../../core/errors.js';

/** No shadow with this id on this host. */
export class ShadowNotFoundError extends UmbraError {
  constructor(shadowId: string, op?: string) {
    super('NOT_FOUND', `no shadow ${JSON.stringify(shadowId)} on this host`, { shadowId, op });
    this.name = 'ShadowNotFoundError';
  }
}

/** The shadow exists with another spec (delete it first). */
export class ShadowConflictError extends UmbraError {
  constructor(shadowId: string) {
    super('CONFLICT', `shadow ${shadowId} already exists with a different spec`, { shadowId, op: 'ensure' });
    this.name = 'ShadowConflictError';
  }
}

/** One invalid field of a request. */
export interface RequestIssue {
  path: string;
  message: string;
}

/** A request body or query the protocol refuses; `context.issues` lists every problem. */
export class ShadowRequestInvalidError extends UmbraError {
  constructor(issues: readonly RequestIssue[], shadowId?: string) {
    super('REQUEST_INVALID', `invalid request: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, { shadowId, issues, path: issues[0]?.path });
    this.name = 'ShadowRequestInvalidError';
  }
}

/**
 * The shadow was promoted (or a promotion runs): it is a primary, so the operation (ensure,
 * rehearse, a second promotion, a delete without `?promoted=kill`) is refused (`CONFLICT`).
 */
export class ShadowPromotedError extends UmbraError {
  constructor(shadowId: string, op: string, detail = 'it was promoted: it is a primary now') {
    super('CONFLICT', `cannot ${op} shadow ${shadowId}: ${detail}`, { shadowId, op });
    this.name = 'ShadowPromotedError';
  }
}
