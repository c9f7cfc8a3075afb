import { describe, expect, it } from 'vitest';
import { pitExportName, pitNames, qsdArgs, targetPaths } from './layout.js';

describe('qemu-storage-daemon layout and command line', () => {
  const paths = targetPaths('/run/u', 's1');
  it('keeps a target in <baseDir>/targets/<id>/', () => {
    expect(paths).toEqual({
      dir: '/run/u/targets/s1',
      specFile: '/run/u/targets/s1/target.json',
      disk: '/run/u/targets/s1/disk.raw',
      pidFile: '/run/u/targets/s1/qsd.pid',
      qmpSocket: '/run/u/targets/s1/qmp.sock',
      log: '/run/u/targets/s1/qsd.log',
    });
  });

  it('exports the raw file writable over NBD; the monitor socket comes last', () => {
    expect(qsdArgs({ id: 's1', sizeBytes: 1 << 20, host: '10.0.0.2', port: 10809, exportName: 'a,b' }, paths)).toEqual([
      '--blockdev', 'driver=file,node-name=f0,filename=/run/u/targets/s1/disk.raw',
      '--blockdev', 'driver=raw,node-name=t0,file=f0',
      '--nbd-server', 'addr.type=inet,addr.host=10.0.0.2,addr.port=10809',
      '--export', 'type=nbd,id=e0,node-name=t0,name=a,,b,writable=on',
      '--chardev', 'socket,id=mon0,path=/run/u/targets/s1/qmp.sock,server=on,wait=off',
      '--monitor', 'chardev=mon0',
      '--pidfile', '/run/u/targets/s1/qsd.pid',
    ]);
  });

  it('names point-in-time objects from the point-in-time name', () => {
    expect(pitNames('r12')).toEqual({ node: 'pit-r12', job: 'pitjob-r12', exportId: 'pitexp-r12' });
    expect(pitExportName('s1', 'r12')).toBe('s1-r12');
  });
});
