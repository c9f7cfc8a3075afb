/**
 * The lab guest image on real QEMU (TCG: KVM does not work on these machines): build (or find in
 * the cache), boot on a fresh data disk, append through the guest service, power down over ACPI,
 * boot again on the same disk, crash the kernel, boot again. The QMP exchange here is a minimal
 * inline one (the real client lives in src/hypervisor/).
 *
 * Prints the measured figures (build time, boot time to /health, QEMU RSS at -m 128).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, openSync, closeSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImage, createDataDisk, guestKernelArgs, type GuestImage, type GuestKernelArgsOptions } from '../src/guest/index.js';
import { imageBuildCommand } from '../src/cli/image-command.js';

const CLK_TCK = 100; // Linux on x86-64
const vms = new Set<Vm>();
let dir: string;
let image: GuestImage;
let disk: string;
const figures: Record<string, string> = {};
const bootSeconds: number[] = [];

interface Vm {
  name: string;
  proc: ChildProcess;
  pid: number;
  port: number;
  serial: string;
  qmp: string;
  started: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts QEMU (not daemonized: the test owns the process and kills it by PID at the end). */
async function boot(name: string, opts: { cpus?: { max: number }; kernelArgs?: GuestKernelArgsOptions } = {}): Promise<Vm> {
  const port = await freePort();
  const serial = join(dir, `${name}.serial.log`);
  const qmp = join(dir, `${name}.qmp`);
  const stderr = openSync(join(dir, `${name}.stderr.log`), 'w');
  const accel = opts.cpus ? 'tcg,tb-size=32,thread=single' : 'tcg,tb-size=32'; // CPU hot-add crashes multi-threaded TCG
  const smp = opts.cpus ? `1,maxcpus=${opts.cpus.max}` : '1';
  const args = [
    '-name', name, '-accel', accel, '-machine', 'q35', '-m', '128', '-smp', smp, '-nodefaults', '-display', 'none',
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', guestKernelArgs(opts.kernelArgs), '-no-reboot',
    '-chardev', `file,id=s0,path=${serial}`, '-serial', 'chardev:s0',
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:80`, '-device', 'virtio-net-pci,netdev=n0,romfile=',
    '-blockdev', `driver=file,node-name=f0,filename=${disk}`, '-blockdev', 'driver=qcow2,node-name=disk0,file=f0',
    '-device', 'virtio-blk-pci,drive=disk0',
    '-qmp', `unix:${qmp},server=on,wait=off`,
  ];
  const started = performance.now();
  const proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', stderr] });
  closeSync(stderr);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const vm: Vm = { name, proc, pid: proc.pid!, port, serial, qmp, started, exited };
  vms.add(vm);
  return vm;
}

function serialLog(vm: Vm): string {
  return existsSync(vm.serial) ? readFileSync(vm.serial, 'utf8') : '';
}

function alive(vm: Vm): boolean {
  return vm.proc.exitCode === null && vm.proc.signalCode === null;
}

/** Polls /health until 200; returns the seconds since QEMU started. Fails early if QEMU exits. */
async function waitHealthy(vm: Vm, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!alive(vm)) throw new Error(`${vm.name}: QEMU exited before /health answered: ${readFileSync(join(dir, `${vm.name}.stderr.log`), 'utf8')}\n${serialLog(vm).slice(-2000)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${vm.port}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return (performance.now() - vm.started) / 1000;
    } catch {
      /* not up yet */
    }
    await sleep(50);
  }
  throw new Error(`${vm.name}: /health did not answer within ${timeoutMs} ms\n${serialLog(vm).slice(-2000)}`);
}

async function http(vm: Vm, method: string, path: string, body?: string, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${vm.port}${path}`, { method, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, text: await r.text() };
}

async function append(vm: Vm, line: string): Promise<number> {
  const r = await http(vm, 'POST', '/append', line);
  expect(r.status, r.text).toBe(200);
  return (JSON.parse(r.text) as { seq: number }).seq;
}

/** A minimal QMP session: greeting, qmp_capabilities, then each command's return (events skipped). */
async function qmp(vm: Vm, commands: { execute: string; arguments?: object }[]): Promise<unknown[]> {
  const sock = createConnection(vm.qmp);
  const lines = createInterface({ input: sock })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error('QMP connection closed');
      const msg = JSON.parse(value) as Record<string, unknown>;
      if (!('event' in msg)) return msg;
    }
  };
  try {
    expect(await next()).toHaveProperty('QMP');
    const out: unknown[] = [];
    for (const c of [{ execute: 'qmp_capabilities' }, ...commands]) {
      sock.write(JSON.stringify(c) + '\n');
      const reply = await next();
      if ('error' in reply) throw new Error(`QMP ${c.execute}: ${JSON.stringify(reply.error)}`);
      out.push(reply.return);
    }
    return out.slice(1);
  } finally {
    sock.destroy();
  }
}

/** CPU seconds (user + system, all threads) the process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of the whole line
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function waitExit(vm: Vm, timeoutMs: number) {
  return Promise.race([vm.exited, sleep(timeoutMs).then(() => { throw new Error(`${vm.name}: QEMU still running after ${timeoutMs} ms\n${serialLog(vm).slice(-1500)}`); })]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-guest-'));
  const t0 = performance.now();
  image = await buildImage({ onProgress: (e) => process.stderr.write(`umbra image: ${e.message}\n`) });
  figures.build = `${((performance.now() - t0) / 1000).toFixed(2)} s (${image.cached ? 'cache hit' : 'cold'})`;
  disk = await createDataDisk(join(dir, 'data.qcow2'), 64);
}, 30 * 60_000);

afterAll(async () => {
  for (const vm of vms) if (alive(vm)) process.kill(vm.pid, 'SIGKILL');
  await Promise.all([...vms].map((vm) => vm.exited));
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (bootSeconds.length) figures.boot = `${bootSeconds.map((s) => s.toFixed(2)).join(', ')} s (median ${median(bootSeconds).toFixed(2)} s)`;
  process.stderr.write(`guest image figures: ${JSON.stringify(figures)}\n`);
});

describe('the lab guest image on QEMU (TCG)', () => {
  let a: Vm;
  const lines: string[] = [];

  it('is found in the cache on the second build, in well under a second', async () => {
    const t0 = performance.now();
    const again = await buildImage();
    const seconds = (performance.now() - t0) / 1000;
    figures.cached = `${seconds.toFixed(3)} s`;
    expect(again).toMatchObject({ cached: true, kernel: image.kernel, initrd: image.initrd, hash: image.hash });
    expect(seconds).toBeLessThan(1);
    expect(image.kernelVersion).toMatch(/^6\.1\.0-\d+-amd64$/);
    expect(readFileSync(image.kernel).subarray(0, 4).toString('latin1')).toBe('\x7fELF'); // uncompressed: PVH boot

    let out = '';
    const status = await imageBuildCommand({ json: true, quiet: true }, { stdout: (s) => (out += s), stderr: () => {} });
    expect(status).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ kernel: image.kernel, initrd: image.initrd, hash: image.hash, cached: true });
  });

  it('boots on a fresh data disk and numbers appends 1, 2, 3', async () => {
    a = await boot('a');
    bootSeconds.push(await waitHealthy(a));
    expect(serialLog(a)).toMatch(/formatting \/dev\/vda \(ext4\)/);
    expect(serialLog(a)).toMatch(/UMBRA-READY role=primary seq=0 port=80/);
    const health = JSON.parse((await http(a, 'GET', '/health')).text);
    expect(health).toMatchObject({ status: 'ok', role: 'primary', seq: 0, cpus: 1 });
    figures.rss = `${rssMiB(a.pid).toFixed(0)} MiB at -m 128`;

    for (const [i, line] of ['first line', 'second line: {"json": true}', 'third line ünïcode'].entries()) {
      expect(await append(a, line)).toBe(i + 1);
      lines.push(line);
    }
    const log = await http(a, 'GET', '/log');
    expect(log.status).toBe(200);
    expect(log.text).toBe(lines.join('\n') + '\n');
  }, 90_000);

  it('numbers concurrent appends exactly once, in log order', async () => {
    const batch = Array.from({ length: 16 }, (_, i) => `concurrent ${i}`);
    const seqs = await Promise.all(batch.map((l) => append(a, l)));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => 4 + i));
    const log = (await http(a, 'GET', '/log')).text.split('\n').slice(0, -1);
    expect(log).toHaveLength(19);
    batch.forEach((l, i) => expect(log[seqs[i] - 1]).toBe(l)); // line N of the log has seq N
    lines.splice(0, lines.length, ...log);
  }, 60_000);

  it('takes one line of up to 4 KiB, nothing else', async () => {
    const max = 'x'.repeat(4096);
    expect(await append(a, max + '\n')).toBe(20); // one trailing newline is dropped
    lines.push(max);
    expect((await http(a, 'POST', '/append', 'y'.repeat(4097))).status).toBe(413);
    expect((await http(a, 'POST', '/append', 'two\nlines')).status).toBe(400);
    expect((await http(a, 'POST', '/append', '')).status).toBe(400);
    expect((await http(a, 'GET', '/append')).status).toBe(405);
    expect((await http(a, 'GET', '/nope')).status).toBe(404);
  });

  it('burns about 50 % of a core on /load?cpu=50&seconds=3', async () => {
    const c0 = cpuSeconds(a.pid);
    const t0 = performance.now();
    const r = await http(a, 'GET', '/load?cpu=50&seconds=3');
    expect(JSON.parse(r.text)).toMatchObject({ cpu: 50, seconds: 3, workers: 1 });
    await sleep(3000 - (performance.now() - t0));
    const share = (cpuSeconds(a.pid) - c0) / ((performance.now() - t0) / 1000);
    figures.load50 = `${(share * 100).toFixed(0)} % of a core`;
    expect(share).toBeGreaterThan(0.35);
    expect(share).toBeLessThan(0.7);
    expect((await http(a, 'GET', '/load?cpu=50')).status).toBe(400); // seconds missing
  }, 30_000);

  it('answers 500s in fault mode 5xx until the fault is cleared', async () => {
    expect((await http(a, 'POST', '/fault?mode=5xx')).status).toBe(200);
    expect((await http(a, 'GET', '/health')).status).toBe(500);
    expect((await http(a, 'POST', '/append', 'refused')).status).toBe(500);
    expect((await http(a, 'POST', '/fault?mode=none')).status).toBe(200);
    expect((await http(a, 'GET', '/health')).status).toBe(200);
    expect((await http(a, 'POST', '/fault?mode=bogus')).status).toBe(400);
  });

  it('shuts down cleanly on the ACPI power button', async () => {
    await qmp(a, [{ execute: 'system_powerdown' }]);
    expect(await waitExit(a, 30_000)).toEqual({ code: 0, signal: null });
    const log = serialLog(a);
    expect(log).toMatch(/UMBRA-POWEROFF/);
    expect(log).toMatch(/umbra-lab: stopped by signal 15, seq=20/);
    expect(log).toMatch(/UMBRA-HALT/);
    expect(log).not.toMatch(/UMBRA-ERROR/);
  }, 40_000);

  let b: Vm;
  it('boots again on the same disk with every line still there', async () => {
    b = await boot('b');
    bootSeconds.push(await waitHealthy(b));
    expect(serialLog(b)).not.toMatch(/formatting/);
    expect((await http(b, 'GET', '/log')).text).toBe(lines.join('\n') + '\n');
    expect(await append(b, 'after reboot')).toBe(21);
    lines.push('after reboot');
  }, 90_000);

  it('panics the kernel on /fault?mode=panic; acknowledged lines survive the crash', async () => {
    expect(await append(b, 'just before the panic')).toBe(22);
    lines.push('just before the panic');
    expect((await http(b, 'POST', '/fault?mode=panic')).status).toBe(200);
    // panic=-1 resets at once; with -no-reboot QEMU then exits.
    expect(await waitExit(b, 30_000)).toEqual({ code: 0, signal: null });
    expect(serialLog(b)).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);

    const c = await boot('c', { cpus: { max: 2 } });
    bootSeconds.push(await waitHealthy(c));
    expect((await http(c, 'GET', '/log')).text).toBe(lines.join('\n') + '\n');

    // A hot-added vCPU comes online by itself (the guest's uevent helper).
    const [cpus] = (await qmp(c, [{ execute: 'query-hotpluggable-cpus' }])) as { type: string; props: object; 'qom-path'?: string }[][];
    const free = cpus.find((x) => !x['qom-path'])!;
    await qmp(c, [{ execute: 'device_add', arguments: { driver: free.type, id: 'cpu1', ...free.props } }]);
    let online = 0;
    for (let i = 0; i < 100 && online < 2; i++) {
      online = JSON.parse((await http(c, 'GET', '/health')).text).cpus;
      if (online < 2) await sleep(100);
    }
    expect(online).toBe(2);

    // hang: nothing answers any more.
    expect((await http(c, 'POST', '/fault?mode=hang')).status).toBe(200);
    await expect(http(c, 'GET', '/health', undefined, 1500)).rejects.toThrow();
    process.kill(c.pid, 'SIGKILL'); // unclean: the next mount replays the journal
    await c.exited;
  }, 120_000);

  it('waits as a warm standby and serves the disk after POST /admin/promote', async () => {
    const token = 'lab-token-1';
    const d = await boot('d', { kernelArgs: { dataDevice: 'none', adminToken: token } });
    await waitHealthy(d);
    expect(JSON.parse((await http(d, 'GET', '/health')).text)).toMatchObject({ role: 'standby' });
    expect((await http(d, 'POST', '/append', 'too early')).status).toBe(503);
    expect((await http(d, 'POST', '/admin/promote?dev=vda')).status).toBe(401);
    const promote = await fetch(`http://127.0.0.1:${d.port}/admin/promote?dev=vda`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const body = (await promote.json()) as { seq: number; ms: number };
    expect(promote.status).toBe(200);
    expect(body.seq).toBe(22);
    figures.promote = `${body.ms} ms in the guest`;
    expect((await http(d, 'GET', '/log')).text).toBe(lines.join('\n') + '\n');
    expect(await append(d, 'after promotion')).toBe(23);
    const again = await fetch(`http://127.0.0.1:${d.port}/admin/promote?dev=vda`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(409);
  }, 90_000);
});
