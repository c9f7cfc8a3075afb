/**
 * The shadow side of the data path in the host agent: shadow targets and VMs, their
 * supervision, rehearsals, promotion (warm, cold, live migration in), and the `/v1/shadows` routes.
 */
export { ShadowManager, type ShadowManagerOptions, type RehearseOptions } from './shadow-manager.js';
export { shadowRoutes } from './routes.js';
export { ShadowConflictError, ShadowNotFoundError, ShadowPromotedError, ShadowRequestInvalidError } from './errors.js';
export { fetchPost, type HttpPost } from './promote.js';
export { COMMAND_TASK_UNSUPPORTED, fetchGet, type HttpGet } from './rehearse.js';
export { defaultTargets } from './targets.js';
