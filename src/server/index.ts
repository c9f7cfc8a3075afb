/** The control plane: `umbra server` (API, reconciler, profiler, store maintenance) and its client. */
export { startServer, DEFAULT_PROFILER, SERVER_VERSION, type ServerOptions, type RunningServer } from './server.js';
export { ServerApiClient, ServerApiError, type ServerApiClientOptions } from './client.js';
export { HttpAgentApi, type AgentApi, type AgentTarget } from './agent-client.js';
export { Reconciler, agentSpecFor, type GuestImageRef } from './reconciler.js';
export { Profiler, LOAD_METRICS, type ProfilerSettings, type ProfilerReport } from './profiler.js';
export { placeVm, hostLoads, DEFAULT_PLACEMENT, type PlacementOptions, type HostLoad } from './placement.js';
export { observeVmStatus, type EnsureOutcome } from './vm-status.js';
export { resolveServerToken, TOKEN_FILE, type TokenSource } from './auth.js';
export { bearerMatches } from '../api/auth.js';
export { HTTP_STATUS, errorResponse } from './http-errors.js';
export { createServerLogger } from './log.js';
export * from './errors.js';
