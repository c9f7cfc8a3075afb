import { describe, it, expect } from 'vitest';
import { guestKernelArgs } from './kernel-args.js';

describe('guestKernelArgs', () => {
  it('has the console, panic and hot-plug settings by default', () => {
    expect(guestKernelArgs()).toBe('console=ttyS0 quiet panic=-1 memhp_default_state=online cryptomgr.notests mitigations=off');
  });

  it('adds the umbra.* arguments /init reads', () => {
    expect(guestKernelArgs({ dataDevice: 'none', adminToken: 'tok-1', address: '10.0.2.16/24', gateway: '10.0.2.2', shell: true, extra: ['loglevel=7'] })).toBe(
      'console=ttyS0 quiet panic=-1 memhp_default_state=online cryptomgr.notests mitigations=off umbra.data=none umbra.ip=10.0.2.16/24 umbra.gw=10.0.2.2 umbra.token=tok-1 umbra.shell=1 loglevel=7',
    );
  });

  it('refuses values that would split into several arguments', () => {
    expect(() => guestKernelArgs({ adminToken: 'a b' })).toThrow(RangeError);
    expect(() => guestKernelArgs({ extra: ['init=/bin/sh;reboot'] })).toThrow(RangeError);
  });
});
