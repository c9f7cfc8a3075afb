import { labCommand, type LabCommandArgs } from '../../src/cli/lab-command.js';

/** What one `umbra lab <action>` printed and returned. */
export interface LabRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `umbra lab <action>` in-process with `env` (e.g. its own `UMBRA_STATE_DIR`), capturing its output. */
export type LabRunner = (action: 'up' | 'down' | 'status', args?: LabCommandArgs) => Promise<LabRun>;

/** A {@link LabRunner} for the lab whose state lives where `env` says. */
export function labRunner(env: NodeJS.ProcessEnv): LabRunner {
  return async (action, args = {}) => {
    let out = '';
    let err = '';
    const code = await labCommand(action, args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env });
    return { code, out, err };
  };
}

/** A JSON request to the lab's server; throws on a non-2xx answer (with its body). */
export type ServerApi = <T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>;

/**
 * A {@link ServerApi} for the server `target()` names (read at each call: the lab is up only
 * after the first test), with its bearer token; requests time out after `defaultTimeoutMs`.
 */
export function serverApi(target: () => { server: string; token: string }, defaultTimeoutMs: number): ServerApi {
  return async <T>(method: string, path: string, body?: unknown, timeoutMs = defaultTimeoutMs): Promise<T> => {
    const { server, token } = target();
    const r = await fetch(server + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}
