import { describe, it, expect } from 'vitest';
import { assembleInitramfs, MODULES_LIST, POWER_BUTTON_HANDLER } from './initramfs.js';

const b = (s: string) => Buffer.from(s);

describe('assembleInitramfs', () => {
  const archive = assembleInitramfs({
    busybox: b('BUSYBOX'),
    applets: ['bin/sh', 'bin/ash', 'sbin/mke2fs', 'usr/bin/[', 'sbin/init', 'linuxrc', '', 'sbin/acpid'],
    service: b('SERVICE'),
    scripts: [
      { dest: 'init', data: b('#!/bin/sh\n'), mode: 0o755 },
      { dest: 'sbin/umbra-shutdown', data: b('#!/bin/sh\n'), mode: 0o755 },
    ],
    modules: [
      { name: 'virtio_ring', data: b('ko1') },
      { name: 'virtio', data: b('ko2') },
    ],
    e2fs: [{ path: 'sbin/mke2fs', data: b('MKE2FS'), mode: 0o755 }],
    libs: [{ soname: 'libc.so.6', data: b('LIBC') }],
    version: 'image x\n',
  });
  const by = new Map(archive.list().map((e) => [e.path, e]));

  it('has an executable /init and the console device the kernel opens for it', () => {
    expect(by.get('init')).toMatchObject({ kind: 'file', mode: 0o755 });
    expect(by.get('dev/console')).toMatchObject({ kind: 'chardev', major: 5, minor: 1 });
    expect(by.get('bin/sh')).toEqual({ kind: 'symlink', path: 'bin/sh', target: '/bin/busybox' });
  });

  it('keeps real binaries over busybox applets of the same name', () => {
    expect(by.get('sbin/mke2fs')).toMatchObject({ kind: 'file' });
    expect(by.get('sbin/acpid')).toEqual({ kind: 'symlink', path: 'sbin/acpid', target: '/bin/busybox' });
    expect(by.get('usr/bin/[')).toMatchObject({ kind: 'symlink' });
    expect(by.has('linuxrc')).toBe(false);
  });

  it('lists the modules in load order and stores them flat', () => {
    const list = by.get(MODULES_LIST);
    expect(list?.kind === 'file' && Buffer.from(list.data).toString()).toBe('virtio_ring\nvirtio\n');
    expect(by.get('lib/modules/virtio.ko')).toMatchObject({ kind: 'file' });
  });

  it('wires the power button to the shutdown script and the loader to its multiarch path', () => {
    expect(by.get(POWER_BUTTON_HANDLER)).toMatchObject({ kind: 'symlink', target: '/sbin/umbra-shutdown' });
    expect(by.get('lib64/ld-linux-x86-64.so.2')).toMatchObject({ kind: 'symlink', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' });
    expect(by.get('lib/x86_64-linux-gnu/libc.so.6')).toMatchObject({ kind: 'file' });
    expect(by.get('tmp')).toMatchObject({ kind: 'dir', mode: 0o1777 });
  });
});
