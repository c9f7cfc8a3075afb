import { describe, it, expect } from 'vitest';
import { candidateVersions, debFilePrefix, kernelPackageFromDepends, kernelReleaseOf, parseStanzas } from './apt.js';

const SHOW = `Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.176+1)
Version: 6.1.176-1
Installed-Size: 13
Depends: linux-image-6.1.0-50-amd64 (= 6.1.176-1)
Description: Linux for 64-bit PCs (meta-package)
 This package depends on the latest Linux kernel and modules for use on PCs
 with AMD64, Intel 64 or VIA Nano processors.

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
Depends: libc6 (>= 2.34)
Description: Standalone rescue shell with tons of builtin utilities

Package: busybox-static
Version: 1:1.30.1-6
Description: an older version listed second

`;

describe('apt output parsing', () => {
  it('splits control stanzas and joins continuation lines', () => {
    const s = parseStanzas(SHOW);
    expect(s).toHaveLength(3);
    expect(s[0].get('Description')).toBe(
      'Linux for 64-bit PCs (meta-package)\nThis package depends on the latest Linux kernel and modules for use on PCs\nwith AMD64, Intel 64 or VIA Nano processors.',
    );
  });

  it('takes the first (candidate) version of each package', () => {
    const c = candidateVersions(SHOW);
    expect(c.get('busybox-static')?.version).toBe('1:1.35.0-4+deb12u1+b1');
    expect(c.get('linux-image-amd64')).toEqual({ version: '6.1.176-1', depends: 'linux-image-6.1.0-50-amd64 (= 6.1.176-1)' });
    expect(c.has('libc6')).toBe(false);
  });

  it('finds the versioned kernel package of the metapackage', () => {
    expect(kernelPackageFromDepends('linux-image-6.1.0-50-amd64 (= 6.1.176-1)')).toBe('linux-image-6.1.0-50-amd64');
    expect(kernelPackageFromDepends('initramfs-tools | linux-initramfs-tool, linux-image-6.12.9-1-amd64')).toBe('linux-image-6.12.9-1-amd64');
    expect(kernelPackageFromDepends('linux-image-6.1.0-50-amd64-unsigned')).toBeUndefined();
    expect(kernelReleaseOf('linux-image-6.1.0-50-amd64')).toBe('6.1.0-50-amd64');
  });

  it('names downloaded files as apt-get download does (epoch colon as %3a)', () => {
    expect(debFilePrefix({ name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' })).toBe('busybox-static_1%3a1.35.0-4+deb12u1+b1_');
    expect(debFilePrefix({ name: 'libc6', version: '2.36-9+deb12u14' })).toBe('libc6_2.36-9+deb12u14_');
  });
});
