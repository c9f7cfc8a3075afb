import { describe, expect, it } from 'vitest';
import { parseVmSpec } from '../spec.js';
import { accelArg, buildQemuArgs, diskArgs, qemuEscape } from './args.js';
import { resolveRunDir, vmPaths } from './paths.js';

const paths = vmPaths('/run/umbra', 'vm1');

/** The value following option `opt` (first occurrence). */
function opt(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildQemuArgs', () => {
  it('builds the whole command line of a minimal VM', () => {
    const spec = parseVmSpec({ id: 'vm1', vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' } });
    expect(buildQemuArgs(spec, paths, { accel: 'tcg' })).toEqual([
      '-name', 'vm1,process=umbra-vm1',
      '-accel', 'tcg,tb-size=32',
      '-machine', 'q35',
      '-m', '128M',
      '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none',
      '-no-reboot',
      '-chardev', 'socket,id=serial0,path=/run/umbra/vms/vm1/serial.sock,server=on,wait=off,logfile=/run/umbra/vms/vm1/serial.log',
      '-serial', 'chardev:serial0',
      '-chardev', 'socket,id=qmp0,path=/run/umbra/vms/vm1/qmp.sock,server=on,wait=off',
      '-mon', 'chardev=qmp0,mode=control',
      '-pidfile', '/run/umbra/vms/vm1/qemu.pid',
    ]);
  });

  it('leaves room for hot-add: maxcpus, memory slots, and single-threaded TCG', () => {
    const spec = parseVmSpec({ id: 'vm1', vcpus: { base: 1, max: 4 }, memory: { baseMiB: 128, slots: 4, maxMiB: 1024 }, boot: { kind: 'none' } });
    const a = buildQemuArgs(spec, paths, { accel: 'tcg' });
    expect(opt(a, '-smp')).toBe('1,maxcpus=4');
    expect(opt(a, '-m')).toBe('128M,slots=4,maxmem=1024M');
    expect(opt(a, '-accel')).toBe('tcg,tb-size=32,thread=single');
    expect(accelArg('kvm', spec)).toBe('kvm');
    const k = buildQemuArgs(spec, paths, { accel: 'kvm' });
    expect(opt(k, '-accel')).toBe('kvm');
    expect(opt(k, '-cpu')).toBe('host');
  });

  it('boots a kernel with initrd and command line, with user networking and forwards', () => {
    const spec = parseVmSpec({
      id: 'vm1',
      vcpus: { base: 1 },
      memory: { baseMiB: 128 },
      boot: { kind: 'kernel', kernel: '/img/vmlinux', initrd: '/img/initrd.gz', append: 'console=ttyS0 quiet' },
      network: { kind: 'user', forwards: [{ hostPort: 8080, guestPort: 80 }, { hostAddr: '10.0.0.1', hostPort: 2222, guestPort: 22 }] },
      devices: [{ kind: 'pcie-root-port', id: 'rp1', chassis: 1, slot: 1 }],
    });
    const a = buildQemuArgs(spec, paths, { accel: 'tcg' });
    expect(opt(a, '-kernel')).toBe('/img/vmlinux');
    expect(opt(a, '-initrd')).toBe('/img/initrd.gz');
    expect(opt(a, '-append')).toBe('console=ttyS0 quiet');
    expect(opt(a, '-netdev')).toBe('user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:10.0.0.1:2222-:22');
    expect(a).toContain('virtio-net-pci,netdev=net0,id=net0-dev,romfile=');
    expect(a).toContain('pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1');
  });

  it('starts paused with -S, and an incoming target with -S -incoming defer', () => {
    const base = { id: 'vm1', vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' as const } };
    const paused = buildQemuArgs(parseVmSpec(base), paths, { accel: 'tcg', paused: true });
    expect(paused).toContain('-S');
    expect(paused).not.toContain('-incoming');
    const inc = buildQemuArgs(parseVmSpec({ ...base, incoming: true }), paths, { accel: 'tcg' });
    expect(inc.slice(-3)).toEqual(['-S', '-incoming', 'defer']);
    expect(buildQemuArgs(parseVmSpec(base), paths, { accel: 'tcg' })).not.toContain('-S');
  });

  it('escapes commas in paths and names', () => {
    expect(qemuEscape('/a,b/c')).toBe('/a,,b/c');
    const spec = parseVmSpec({ id: 'vm1', name: 'web,1', vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' }, disks: [{ kind: 'file', id: 'data', path: '/d,x.raw' }] });
    const a = buildQemuArgs(spec, paths, { accel: 'tcg' });
    expect(opt(a, '-name')).toBe('web,,1,process=umbra-vm1');
    expect(a).toContain('driver=file,node-name=data-file,filename=/d,,x.raw');
  });
});

describe('diskArgs', () => {
  const disk = (d: unknown) => parseVmSpec({ id: 'v', vcpus: { base: 1 }, memory: { baseMiB: 64 }, boot: { kind: 'none' }, disks: [d] }).disks[0];

  it('attaches a file disk as protocol + format nodes named by the disk id', () => {
    expect(diskArgs(disk({ kind: 'file', id: 'data', path: '/d.qcow2', format: 'qcow2' }))).toEqual([
      '-blockdev', 'driver=file,node-name=data-file,filename=/d.qcow2',
      '-blockdev', 'driver=qcow2,node-name=data,file=data-file',
      '-device', 'virtio-blk-pci,drive=data,id=data-dev,serial=data',
    ]);
  });

  it('marks read-only and share-rw disks', () => {
    const a = diskArgs(disk({ kind: 'file', id: 'data', path: '/d.raw', readOnly: true, shareRw: true }));
    expect(a[1]).toBe('driver=file,node-name=data-file,filename=/d.raw,read-only=on');
    expect(a[3]).toBe('driver=raw,node-name=data,file=data-file,read-only=on');
    expect(a[5]).toBe('virtio-blk-pci,drive=data,id=data-dev,serial=data,share-rw=on');
  });

  it('reads an NBD disk straight from its export', () => {
    expect(diskArgs(disk({ kind: 'nbd', id: 'sh0', host: '10.0.0.2', port: 10809, export: 'data' }))).toEqual([
      '-blockdev', 'driver=nbd,node-name=sh0,server.type=inet,server.host=10.0.0.2,server.port=10809,export=data',
      '-device', 'virtio-blk-pci,drive=sh0,id=sh0-dev,serial=sh0',
    ]);
  });

  it('NBD disks: reconnect-delay when asked; snapshot=on over a read-only export', () => {
    expect(diskArgs(disk({ kind: 'nbd', id: 'data', host: 'h', port: 1, export: 'e', reconnectDelaySeconds: 5 }))[1]).toBe(
      'driver=nbd,node-name=data,server.type=inet,server.host=h,server.port=1,export=e,reconnect-delay=5',
    );
    expect(diskArgs(disk({ kind: 'nbd', id: 'data', host: 'h', port: 1, export: 'e-pit1', snapshot: true })).slice(0, 2)).toEqual([
      '-drive',
      'if=none,id=data,driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=h,file.server.port=1,file.export=e-pit1,snapshot=on',
    ]);
  });

  it('uses -drive snapshot=on for throwaway writes', () => {
    expect(diskArgs(disk({ kind: 'file', id: 'data', path: '/d.raw', snapshot: true }))[1]).toBe('if=none,id=data,file=/d.raw,format=raw,snapshot=on');
  });
});

describe('vmPaths', () => {
  it('lays out the run dir and refuses socket paths over 107 bytes', () => {
    expect(paths.qmpSocket).toBe('/run/umbra/vms/vm1/qmp.sock');
    expect(() => vmPaths(`/tmp/${'x'.repeat(90)}`, 'vm1')).toThrow(expect.objectContaining({ code: 'VM_SPEC_INVALID' }));
  });

  it('resolves the base dir from the argument, then UMBRA_RUN_DIR', () => {
    expect(resolveRunDir('/a/b', { UMBRA_RUN_DIR: '/env' })).toBe('/a/b');
    expect(resolveRunDir(undefined, { UMBRA_RUN_DIR: '/env/run' })).toBe('/env/run');
    expect(resolveRunDir(undefined, {})).toMatch(/\/\.local\/state\/umbra$/);
  });
});
