/**
 * The run dir of one block target served by `qemu-storage-daemon`, and the daemon's command
 * line, built by pure functions. `<baseDir>/targets/<id>/` holds everything a restarted agent
 * needs to find the daemon again (spec, pidfile, QMP socket) plus the target file and logs.
 */
import { join } from 'node:path';
import type { TargetSpec } from '../driver.js';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Node names inside the daemon (local to it: every target has its own daemon). */
export const FILE_NODE = 'f0';
export const TARGET_NODE = 't0';
/** Export id of the writable target export. */
export const TARGET_EXPORT_ID = 'e0';

/** Files of one target's run dir. */
export interface TargetPaths {
  dir: string;
  /** The spec, JSON. */
  specFile: string;
  /** The target: a raw file of exactly `sizeBytes` bytes. */
  disk: string;
  /** The daemon writes its pid here (`--pidfile`); also the liveness marker in its command line. */
  pidFile: string;
  /** QMP monitor socket. */
  qmpSocket: string;
  /** The daemon's stdout+stderr (appended across starts). */
  log: string;
}

/** The directory holding every target's run dir. */
export function targetsDir(baseDir: string): string {
  return join(baseDir, 'targets');
}

/** The run dir of target `id` under `baseDir`. */
export function targetPaths(baseDir: string, id: string): TargetPaths {
  const dir = join(targetsDir(baseDir), id);
  return {
    dir,
    specFile: join(dir, 'target.json'),
    disk: join(dir, 'disk.raw'),
    pidFile: join(dir, 'qsd.pid'),
    qmpSocket: join(dir, 'qmp.sock'),
    log: join(dir, 'qsd.log'),
  };
}

/** The fleecing overlay file of point-in-time export `name`. */
export function pitOverlay(paths: TargetPaths, name: string): string {
  return join(paths.dir, `pit-${name}.qcow2`);
}

/** QEMU object names of point-in-time export `name` (node, backup job, export id). */
export function pitNames(name: string): { node: string; job: string; exportId: string } {
  return { node: `pit-${name}`, job: `pitjob-${name}`, exportId: `pitexp-${name}` };
}

/** The NBD export name of point-in-time export `name` of a target exported as `exportName`. */
export function pitExportName(exportName: string, name: string): string {
  return `${exportName}-${name}`;
}

/** QEMU option values use `,` as a separator: a literal comma is written twice. */
function esc(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The daemon's arguments (without the binary): the raw file node, an NBD server on
 * `host:port`, the writable export, a QMP monitor on a unix socket, the pidfile. Pure.
 */
export function qsdArgs(spec: TargetSpec, paths: TargetPaths): string[] {
  // Options are processed in order: the monitor socket comes last, so it only appears once the
  // file, the NBD server (its port) and the export are set up.
  return [
    '--blockdev',
    `driver=file,node-name=${FILE_NODE},filename=${esc(paths.disk)}`,
    '--blockdev',
    `driver=raw,node-name=${TARGET_NODE},file=${FILE_NODE}`,
    '--nbd-server',
    `addr.type=inet,addr.host=${esc(spec.host)},addr.port=${spec.port}`,
    '--export',
    `type=nbd,id=${TARGET_EXPORT_ID},node-name=${TARGET_NODE},name=${esc(spec.exportName)},writable=on`,
    '--chardev',
    `socket,id=mon0,path=${esc(paths.qmpSocket)},server=on,wait=off`,
    '--monitor',
    'chardev=mon0',
    '--pidfile',
    paths.pidFile,
  ];
}
