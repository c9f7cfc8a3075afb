/**
 * A writer of "newc" cpio archives (the format the Linux kernel unpacks as an initramfs).
 * Pure and deterministic: every entry gets uid/gid 0 and mtime 0, inode numbers follow the
 * order of addition, so the same entries always give the same bytes. Device nodes can be
 * written without privileges (they are only bytes in the archive).
 */
import { ImageBuildError } from './errors.js';

/** One archive member. `path` is relative (no leading slash), e.g. `bin/busybox`. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Uint8Array }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Collects entries (parents are added implicitly as 0755 directories) and serializes them. */
export class CpioArchive {
  private readonly entries: CpioEntry[] = [];
  private readonly paths = new Set<string>();

  /** Adds a directory (a no-op when it exists). */
  dir(path: string, mode = 0o755): this {
    const p = normalize(path);
    if (this.paths.has(p)) return this;
    this.parents(p);
    return this.push({ kind: 'dir', path: p, mode });
  }

  /** Adds a regular file. */
  file(path: string, data: Uint8Array, mode = 0o644): this {
    const p = normalize(path);
    this.parents(p);
    return this.push({ kind: 'file', path: p, mode, data });
  }

  /** Adds a symbolic link pointing at `target` (stored verbatim). */
  symlink(path: string, target: string): this {
    const p = normalize(path);
    this.parents(p);
    return this.push({ kind: 'symlink', path: p, target });
  }

  /** Adds a character device node. */
  chardev(path: string, major: number, minor: number, mode = 0o600): this {
    const p = normalize(path);
    this.parents(p);
    return this.push({ kind: 'chardev', path: p, mode, major, minor });
  }

  /** Whether an entry exists at `path`. */
  has(path: string): boolean {
    return this.paths.has(normalize(path));
  }

  /** The entries, in archive order. */
  list(): readonly CpioEntry[] {
    return this.entries;
  }

  /** The archive bytes, ending with the `TRAILER!!!` record. */
  toBuffer(): Buffer {
    const parts: Buffer[] = [];
    let ino = 1;
    for (const e of this.entries) {
      let mode: number;
      let data: Uint8Array = new Uint8Array(0);
      let nlink = 1;
      let rdevMajor = 0;
      let rdevMinor = 0;
      switch (e.kind) {
        case 'dir':
          mode = S_IFDIR | e.mode;
          nlink = 2;
          break;
        case 'file':
          mode = S_IFREG | e.mode;
          data = e.data;
          break;
        case 'symlink':
          mode = S_IFLNK | 0o777;
          data = Buffer.from(e.target, 'utf8');
          break;
        case 'chardev':
          mode = S_IFCHR | e.mode;
          rdevMajor = e.major;
          rdevMinor = e.minor;
          break;
      }
      parts.push(...record(e.path, { ino: ino++, mode, nlink, size: data.length, rdevMajor, rdevMinor }, data));
    }
    parts.push(...record('TRAILER!!!', { ino: 0, mode: 0, nlink: 1, size: 0, rdevMajor: 0, rdevMinor: 0 }, new Uint8Array(0)));
    return Buffer.concat(parts);
  }

  private push(e: CpioEntry): this {
    if (this.paths.has(e.path)) throw new ImageBuildError('initramfs', `cpio: duplicate entry ${e.path}`);
    this.paths.add(e.path);
    this.entries.push(e);
    return this;
  }

  private parents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!this.paths.has(parent)) this.push({ kind: 'dir', path: parent, mode: 0o755 });
    }
  }
}

function normalize(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!p || p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new ImageBuildError('initramfs', `cpio: bad path ${JSON.stringify(path)}`);
  return p;
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** One newc record: 110-byte header, NUL-terminated name, both padded to 4, then the data, padded to 4. */
function record(name: string, h: Header, data: Uint8Array): Buffer[] {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const header =
    '070701' +
    hex8(h.ino) +
    hex8(h.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(h.nlink) +
    hex8(0) + // mtime
    hex8(h.size) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(h.rdevMajor) +
    hex8(h.rdevMinor) +
    hex8(nameBytes.length) +
    hex8(0); // check
  return [
    Buffer.from(header, 'ascii'),
    nameBytes,
    Buffer.alloc(pad4(110 + nameBytes.length)),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    Buffer.alloc(pad4(data.length)),
  ];
}
