/**
 * The QEMU command line of a VM, built by a pure function from its spec, its run dir and the
 * accelerator. Spawned as an argument array, never through a shell.
 */
import { maxVcpus, NIC_DEVICE_ID, type DiskSpec, type VmSpec } from '../spec.js';
import type { VmPaths } from './paths.js';

/** The accelerator a VM runs under. */
export type Accel = 'kvm' | 'tcg';

/** Options that are not part of the spec. */
export interface QemuArgsOptions {
  accel: Accel;
  /** Start with vCPUs stopped (`-S`). Implied by `spec.incoming`. */
  paused?: boolean;
}

/** QEMU option values use `,` as a separator: a literal comma is written twice. */
export function qemuEscape(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The `-accel` value. Under TCG: a 32 MiB translation cache (the default 1 GiB per VM would
 * dominate RSS), and `thread=single` when vCPUs may be hot-added, because multi-threaded TCG
 * crashes QEMU 7.2 on CPU hot-add (measured, see PLATFORM.md).
 */
export function accelArg(accel: Accel, spec: VmSpec): string {
  if (accel === 'kvm') return 'kvm';
  return maxVcpus(spec) > spec.vcpus.base ? 'tcg,tb-size=32,thread=single' : 'tcg,tb-size=32';
}

/**
 * The options attaching one data disk: `-blockdev` nodes (protocol node, then the format node
 * named by the disk id) and the virtio-blk device. A `snapshot` disk (file or NBD) uses
 * `-drive snapshot=on` instead (QEMU's throwaway overlay; `-blockdev` has no such option).
 */
export function diskArgs(d: DiskSpec): string[] {
  const share = d.kind === 'file' && d.shareRw ? ',share-rw=on' : '';
  const dev = ['-device', `virtio-blk-pci,drive=${d.id},id=${d.id}-dev,serial=${d.id}${share}`];
  if (d.kind === 'nbd') {
    const rd = d.reconnectDelaySeconds ? `,reconnect-delay=${d.reconnectDelaySeconds}` : '';
    if (d.snapshot) {
      // -drive snapshot=on opens the export read-only (auto-read-only) under a temporary
      // writable qcow2 overlay: a read-only point-in-time export boots a guest that writes.
      const nbd = `file.driver=nbd,file.server.type=inet,file.server.host=${qemuEscape(d.host)},file.server.port=${d.port},file.export=${qemuEscape(d.export)}${rd ? `,file.${rd.slice(1)}` : ''}`;
      return ['-drive', `if=none,id=${d.id},driver=raw,${nbd},snapshot=on${d.readOnly ? ',readonly=on' : ''}`, ...dev];
    }
    const ro = d.readOnly ? ',read-only=on' : '';
    return ['-blockdev', `driver=nbd,node-name=${d.id},server.type=inet,server.host=${qemuEscape(d.host)},server.port=${d.port},export=${qemuEscape(d.export)}${ro}${rd}`, ...dev];
  }
  if (d.snapshot) {
    return ['-drive', `if=none,id=${d.id},file=${qemuEscape(d.path)},format=${d.format},snapshot=on${d.readOnly ? ',readonly=on' : ''}`, ...dev];
  }
  const ro = d.readOnly ? ',read-only=on' : '';
  return [
    '-blockdev',
    `driver=file,node-name=${d.id}-file,filename=${qemuEscape(d.path)}${ro}`,
    '-blockdev',
    `driver=${d.format},node-name=${d.id},file=${d.id}-file${ro}`,
    ...dev,
  ];
}

/**
 * The full argument list (without the binary) for `spec`, with its run dir `paths`.
 * Pure: the same inputs give the same array.
 */
export function buildQemuArgs(spec: VmSpec, paths: VmPaths, opts: QemuArgsOptions): string[] {
  const a: string[] = [];
  const push = (...xs: string[]) => a.push(...xs);
  push('-name', `${qemuEscape(spec.name ?? spec.id)},process=umbra-${spec.id}`);
  push('-accel', accelArg(opts.accel, spec));
  push('-machine', 'q35');
  if (opts.accel === 'kvm') push('-cpu', 'host');
  const mem = spec.memory.slots > 0 ? `${spec.memory.baseMiB}M,slots=${spec.memory.slots},maxmem=${spec.memory.maxMiB}M` : `${spec.memory.baseMiB}M`;
  push('-m', mem);
  const maxCpus = maxVcpus(spec);
  push('-smp', maxCpus > spec.vcpus.base ? `${spec.vcpus.base},maxcpus=${maxCpus}` : `${spec.vcpus.base}`);
  push('-nodefaults', '-no-user-config', '-display', 'none');
  if (spec.noReboot) push('-no-reboot');

  switch (spec.boot.kind) {
    case 'kernel':
      push('-kernel', spec.boot.kernel);
      if (spec.boot.initrd) push('-initrd', spec.boot.initrd);
      if (spec.boot.append) push('-append', spec.boot.append);
      break;
    case 'disk':
      push('-blockdev', `driver=file,node-name=boot-file,filename=${qemuEscape(spec.boot.path)}`);
      push('-blockdev', `driver=${spec.boot.format},node-name=boot,file=boot-file`);
      push('-device', 'virtio-blk-pci,drive=boot,id=boot-dev,bootindex=0');
      break;
    case 'none':
      break;
  }

  for (const d of spec.disks) push(...diskArgs(d));

  if (spec.network) {
    const fwds = spec.network.forwards.map((f) => `,hostfwd=tcp:${f.hostAddr}:${f.hostPort}-:${f.guestPort}`).join('');
    push('-netdev', `user,id=net0${fwds}`);
    // romfile= : no option ROM (nothing to PXE-boot; saves loading efi-virtio.rom).
    push('-device', `virtio-net-pci,netdev=net0,id=${NIC_DEVICE_ID},romfile=`);
  }

  for (const dev of spec.devices) {
    push('-device', `pcie-root-port,id=${dev.id},bus=pcie.0,chassis=${dev.chassis},slot=${dev.slot}`);
  }

  push('-chardev', `socket,id=serial0,path=${qemuEscape(paths.serialSocket)},server=on,wait=off,logfile=${qemuEscape(paths.serialLog)}`);
  push('-serial', 'chardev:serial0');
  push('-chardev', `socket,id=qmp0,path=${qemuEscape(paths.qmpSocket)},server=on,wait=off`);
  push('-mon', 'chardev=qmp0,mode=control');
  push('-pidfile', paths.pidFile);
  if (opts.paused || spec.incoming) push('-S');
  if (spec.incoming) push('-incoming', 'defer');
  return a;
}
