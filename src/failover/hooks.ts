/**
 * Failover hooks (issue 5 §3 "user actions"): a command run with an argument list (never a
 * shell string) or a webhook, each with a timeout, at named steps. `{vm}`, `{failover}`,
 * `{from}`, `{to}` and `{path}` are replaced inside each argument (as whole values: no word
 * splitting, no globbing). The outcome is returned for the failover's record.
 */
import { execFile } from 'node:child_process';
import type { FailoverHook } from '../config/schema.js';
import { credentialsAsHeader, redactUrl } from '../core/redact.js';

/** What a hook is told about the failover. */
export interface HookContext {
  hook: 'before_fence' | 'after_traffic' | 'after_failover';
  vm: string;
  failover: string;
  from: string;
  to: string;
  path: string;
  reason: string;
}

/** A hook's outcome. */
export interface HookOutcome {
  /** `command /bin/x` or `webhook http://host/path` (no credentials). */
  what: string;
  ok: boolean;
  ms: number;
  /** Exit code or HTTP status. */
  code: number | null;
  /** The last 500 bytes of its output (commands). */
  output?: string;
  error?: string;
  veto: boolean;
}

const OUTPUT_TAIL = 500;

/** The argument vector with the context's placeholders replaced. Pure. */
export function hookArgv(argv: readonly string[], ctx: HookContext): string[] {
  return argv.map((a) => a.replace(/\{(vm|failover|from|to|path)\}/g, (_m, k: keyof HookContext) => String(ctx[k])));
}

/** Runs one hook; never throws (a failure is an outcome). */
export async function runHook(hook: FailoverHook, ctx: HookContext, now: () => number = () => performance.now()): Promise<HookOutcome> {
  const t0 = now();
  if (hook.command) {
    const argv = hookArgv(hook.command.argv, ctx);
    const what = `command ${argv[0]}`;
    return new Promise((resolve) => {
      execFile(argv[0], argv.slice(1), { timeout: hook.command!.timeout * 1000, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', UMBRA_HOOK: ctx.hook, UMBRA_VM: ctx.vm, UMBRA_FAILOVER: ctx.failover } }, (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.slice(-OUTPUT_TAIL);
        const ms = Math.round(now() - t0);
        if (!err) return resolve({ what, ok: true, ms, code: 0, output, veto: hook.veto });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const timedOut = e.killed === true;
        resolve({
          what,
          ok: false,
          ms,
          code: typeof e.code === 'number' ? e.code : null,
          output,
          error: timedOut ? `timed out after ${hook.command!.timeout} s` : typeof e.code === 'string' ? `${e.code}: ${e.message}` : `exit ${String(e.code)}`,
          veto: hook.veto,
        });
      });
    });
  }
  const w = hook.webhook!;
  const what = `webhook ${redactUrl(w.url)}`;
  try {
    const target = credentialsAsHeader(w.url);
    const r = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: JSON.stringify(ctx), signal: AbortSignal.timeout(w.timeout * 1000) });
    await r.arrayBuffer();
    const ok = r.status >= 200 && r.status < 300;
    return { what, ok, ms: Math.round(now() - t0), code: r.status, ...(ok ? {} : { error: `HTTP ${r.status}` }), veto: hook.veto };
  } catch (e) {
    const err = e as Error;
    return { what, ok: false, ms: Math.round(now() - t0), code: null, error: err.name === 'TimeoutError' ? `timed out after ${w.timeout} s` : ((err.cause as Error | undefined)?.message ?? err.message), veto: hook.veto };
  }
}
