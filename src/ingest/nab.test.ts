import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readNab } from './nab.js';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');

describe('readNab on real NAB files', () => {
  it('reads ec2_cpu_utilization_24ae8d: 4032 rows from 2014-02-14 14:30 UTC, metric value', async () => {
    const [s] = await readNab(join(DATA, 'nab/data/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv'), 'ec2');
    expect(s.metric).toBe('value');
    expect(s.times.length).toBe(4032);
    expect(s.times[0]).toBe(Date.UTC(2014, 1, 14, 14, 30) / 1000);
    expect(s.values[0]).toBe(0.132);
    expect(s.times[4031]).toBe(Date.UTC(2014, 1, 28, 14, 25) / 1000);
  });
  it('keeps the duplicate timestamps of ec2_disk_write_bytes_1ef3de (11 of them) for the regularizer', async () => {
    const [s] = await readNab(join(DATA, 'nab/data/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv'), 'd');
    expect(s.times.length).toBe(4730);
    expect(new Set(s.times).size).toBe(4730 - 11);
  });
  it('keeps the backward step of machine_temperature_system_failure as read', async () => {
    const [s] = await readNab(join(DATA, 'nab/data/realKnownCause/machine_temperature_system_failure.csv'), 'm');
    expect(s.times.length).toBe(22695);
    let back = 0;
    for (let i = 1; i < s.times.length; i++) if (s.times[i] < s.times[i - 1]) back++;
    expect(back).toBe(1);
  });
});
