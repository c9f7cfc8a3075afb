/**
 * Accelerator probe: a short test boot under each candidate accelerator, KVM first. A boot
 * passes when the firmware (SeaBIOS, which logs to the debug console at port 0x402) gets
 * through POST to its boot attempt within the timeout. /dev/kvm can exist and still not work
 * (a software kvm module without vmx/svm: guests hang), so its presence proves nothing.
 * The result is cached in memory and in a file, keyed by QEMU binary and kernel release.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import type { Clock } from '../../core/clock.js';
import { AccelUnavailableError } from '../errors.js';
import type { Accel } from './args.js';
import { tailFile } from './process.js';

/** Outcome of one test boot. */
export interface AccelTrial {
  accel: Accel;
  ok: boolean;
  /** Why it failed (QEMU's last stderr line, or `timeout`), or `firmware reached boot`. */
  detail: string;
  ms: number;
}

/** The probe's verdict. */
export interface AccelProbeResult {
  accel: Accel;
  trials: AccelTrial[];
  /** Cache key: QEMU binary and kernel release. */
  key: string;
}

/** Lines SeaBIOS prints once POST is done and it tries to boot. */
const BOOT_MARKERS = ['Booting from', 'No bootable device'];

/** The argv of a test boot under `accel`, logging the firmware's debug console to `debugLog`. Pure. */
export function probeArgs(accel: Accel, debugLog: string): string[] {
  return [
    '-accel', accel === 'tcg' ? 'tcg,tb-size=32' : 'kvm',
    '-machine', 'q35', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none',
    '-chardev', `file,id=dbg,path=${debugLog.replaceAll(',', ',,')}`,
    '-device', 'isa-debugcon,iobase=0x402,chardev=dbg',
  ];
}

/** Runs one test boot; never throws. The QEMU it starts is killed before it returns. */
export async function trialBoot(binary: string, accel: Accel, workDir: string, clock: Clock, timeoutMs: number): Promise<AccelTrial> {
  mkdirSync(workDir, { recursive: true });
  const debugLog = join(workDir, `probe-${accel}.debugcon.log`);
  const errLog = join(workDir, `probe-${accel}.stderr.log`);
  rmSync(debugLog, { force: true });
  const t0 = clock.now();
  let stderr = '';
  let exited: number | null | undefined;
  const child = spawn(binary, probeArgs(accel, debugLog), { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
  const gone = new Promise<void>((r) => child.once('close', (code) => ((exited = code), r())));
  child.once('error', (e) => (stderr += String(e.message)));
  try {
    for (;;) {
      const log = existsSync(debugLog) ? readFileSync(debugLog, 'utf8') : '';
      if (BOOT_MARKERS.some((m) => log.includes(m))) return { accel, ok: true, detail: 'firmware reached boot', ms: clock.now() - t0 };
      if (exited !== undefined) {
        writeFileSync(errLog, stderr);
        return { accel, ok: false, detail: tailFile(errLog, 1024, 1) || `exited with ${exited}`, ms: clock.now() - t0 };
      }
      if (clock.now() - t0 >= timeoutMs) return { accel, ok: false, detail: `timeout: no boot within ${timeoutMs} ms (guest hangs)`, ms: clock.now() - t0 };
      await clock.sleep(25);
    }
  } finally {
    if (exited === undefined) child.kill('SIGKILL');
    await gone;
  }
}

const memo = new Map<string, Promise<AccelProbeResult>>();

/**
 * Tries `candidates` in order (default KVM, then TCG) and returns the first that boots.
 * Cached per key in memory and in `cacheFile` (when given). Throws `ACCEL_UNAVAILABLE`
 * when none boots.
 */
export function probeAccel(opts: {
  binary: string;
  workDir: string;
  clock: Clock;
  timeoutMs?: number;
  candidates?: Accel[];
  cacheFile?: string;
}): Promise<AccelProbeResult> {
  const candidates = opts.candidates ?? ['kvm', 'tcg'];
  const key = `${opts.binary}|${release()}|${candidates.join(',')}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const p = (async (): Promise<AccelProbeResult> => {
    if (opts.cacheFile && existsSync(opts.cacheFile)) {
      try {
        const cached = JSON.parse(readFileSync(opts.cacheFile, 'utf8')) as AccelProbeResult;
        if (cached.key === key) return cached;
      } catch {
        // A corrupt cache is re-probed.
      }
    }
    const trials: AccelTrial[] = [];
    for (const accel of candidates) {
      if (accel === 'kvm' && !existsSync('/dev/kvm')) {
        trials.push({ accel, ok: false, detail: 'no /dev/kvm', ms: 0 });
        continue;
      }
      const t = await trialBoot(opts.binary, accel, opts.workDir, opts.clock, opts.timeoutMs ?? 5000);
      trials.push(t);
      if (t.ok) {
        const result: AccelProbeResult = { accel, trials, key };
        if (opts.cacheFile) {
          const tmp = `${opts.cacheFile}.tmp`;
          writeFileSync(tmp, JSON.stringify(result, null, 2));
          renameSync(tmp, opts.cacheFile);
        }
        return result;
      }
    }
    throw new AccelUnavailableError(`no accelerator boots: ${trials.map((t) => `${t.accel}: ${t.detail}`).join('; ')}`, { op: 'probeAccel' });
  })();
  memo.set(key, p);
  p.catch(() => memo.delete(key));
  return p;
}

/** Forgets in-memory probe results (tests). */
export function clearAccelMemo(): void {
  memo.clear();
}
