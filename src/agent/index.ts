/**
 * The host agent (`umbra agent`): VMs through the HypervisorDriver, the lease with the server
 * and fencing, usage sampling and probes, and the HTTP API.
 */
export { Agent, leaseFile, DEFAULT_AGENT_PORT, type AgentConfig, type AgentDeps } from './agent.js';
export { fenceVms, SHADOW_LABEL, type FenceReport, type FenceTarget, type FenceOptions } from './fence.js';
export { LeaseKeeper, fenceDeadline, defaultFenceMarginMs, type LeaseState, type LeaseKeeperOptions, type LeasePersistence } from './lease.js';
export { VmManager, classifyExit, toLastError, VM_OPS, type VmOp, type VmManagerOptions } from './vm-manager.js';
export { Resizer, resizeRoutes, planResize, parseResizeRequest, ResizeRequestInvalidError, DIMM_STEP_MIB, type ResizerOptions, type VmLimits, type ResizePlan } from './resize.js';
export { Sampler, type SamplerOptions, type SamplerStats, type SampleSource } from './sampler.js';
export { usageSamples, probeSamples } from './usage.js';
export { METRICS, type MetricName, type MetricDoc } from './metrics.js';
export { SampleBuffer } from './sample-buffer.js';
export { probeHttp, type ProbeResult, type ProbeOptions } from './probe.js';
export { HttpServerClient, ServerRequestError, type ServerClient, type HttpServerClientOptions } from './server-client.js';
export { startAgentApi, type AgentApi, type AgentApiOptions } from './api.js';
export { bearerMatches } from '../api/auth.js';
export { errorResponse, HTTP_STATUS, HttpError } from './http-errors.js';
export { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export { toVmSpec, checkAgentSpec, sameAgentSpec, endpointUrl, type Placement } from './vm-spec.js';
export { RecordStore, type AgentVmRecord, type ExitRecord } from './records.js';
export { osPortPicker, sequentialPorts, type PortPicker } from './ports.js';
export { qemuImgDisks, simDisks, type DiskProvisioner } from './disks.js';
export { pause, deadlineSignal, Wakeup, type PauseEnd } from './timing.js';
export { KeyedMutex } from '../core/keyed-mutex.js';
export { silentLogger, type AgentLogger } from './log.js';
