import { describe, it, expect } from 'vitest';
import { CpioArchive } from './cpio.js';

/** A minimal newc reader (the kernel's view), to check what the writer produced. */
function parse(buf: Buffer) {
  const out: { name: string; mode: number; ino: number; nlink: number; rdev: [number, number]; data: Buffer }[] = [];
  let off = 0;
  for (;;) {
    expect(buf.toString('ascii', off, off + 6)).toBe('070701');
    const f = (i: number) => Number.parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [ino, mode, nlink, size, rmaj, rmin, namesize] = [f(0), f(1), f(4), f(6), f(9), f(10), f(11)];
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    off += 110 + namesize;
    off += (4 - (off % 4)) % 4;
    const data = buf.subarray(off, off + size);
    off += size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') return { entries: out, end: off };
    out.push({ name, mode, ino, nlink, rdev: [rmaj, rmin], data });
  }
}

describe('CpioArchive (newc)', () => {
  it('writes the exact newc header for a file', () => {
    const buf = new CpioArchive().file('a', Buffer.from('xyz'), 0o644).toBuffer();
    const header =
      '070701' + '00000001' + '000081a4' + '00000000' + '00000000' + '00000001' + '00000000' + '00000003' + '00000000' + '00000000' + '00000000' + '00000000' + '00000002' + '00000000';
    expect(buf.toString('ascii', 0, 110)).toBe(header);
    // name "a\0" ends at 112, a multiple of 4; data "xyz" + 1 pad byte; then the trailer.
    expect(buf.toString('latin1', 110, 116)).toBe('a\0xyz\0');
    expect(buf.length % 4).toBe(0);
  });

  it('round-trips directories, files, symlinks and device nodes, parents first', () => {
    const a = new CpioArchive()
      .file('bin/umbra-lab', Buffer.from([1, 2, 3, 4, 5]), 0o755)
      .symlink('bin/sh', '/bin/busybox')
      .chardev('dev/console', 5, 1)
      .dir('tmp', 0o1777);
    const { entries, end } = parse(a.toBuffer());
    expect(end).toBe(a.toBuffer().length);
    expect(entries.map((e) => e.name)).toEqual(['bin', 'bin/umbra-lab', 'bin/sh', 'dev', 'dev/console', 'tmp']);
    const by = Object.fromEntries(entries.map((e) => [e.name, e]));
    expect(by.bin.mode).toBe(0o040755);
    expect(by.bin.nlink).toBe(2);
    expect(by['bin/umbra-lab'].mode).toBe(0o100755);
    expect([...by['bin/umbra-lab'].data]).toEqual([1, 2, 3, 4, 5]);
    expect(by['bin/sh'].mode).toBe(0o120777);
    expect(by['bin/sh'].data.toString()).toBe('/bin/busybox');
    expect(by['dev/console'].mode).toBe(0o020600);
    expect(by['dev/console'].rdev).toEqual([5, 1]);
    expect(by.tmp.mode).toBe(0o041777);
    // Inode numbers are unique and follow insertion order.
    expect(entries.map((e) => e.ino)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('is deterministic', () => {
    const make = () => new CpioArchive().file('etc/x', Buffer.from('hello')).symlink('etc/y', 'x').toBuffer();
    expect(make().equals(make())).toBe(true);
  });

  it('rejects duplicate entries and unsafe paths', () => {
    const a = new CpioArchive().file('init', Buffer.from(''));
    expect(() => a.file('init', Buffer.from(''))).toThrow(/duplicate/);
    expect(() => a.file('../etc/passwd', Buffer.from(''))).toThrow(/bad path/);
    expect(() => a.file('a//b', Buffer.from(''))).toThrow(/bad path/);
    expect(a.dir('init2').has('init2')).toBe(true);
    expect(() => a.dir('init2')).not.toThrow(); // dir() is idempotent
  });
});
