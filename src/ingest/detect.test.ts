import { describe, expect, it } from 'vitest';
import { InputError, UmbraError } from '../core/errors.js';
import { detectFormat } from './detect.js';

const BB_HEADER =
  'Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]';

describe('detectFormat', () => {
  it('recognises each format from content, whatever the extension', () => {
    expect(detectFormat('a.txt', `${BB_HEADER}\n1375308176;\t1;\t2599.9993;\t24.2;\t0.9;\t2097152.0;\t138411.2;\t0.0;\t7.8;\t2.0;\t4.6\n`)).toBe('bitbrains');
    expect(detectFormat('a.csv', '1375308176;\t1;\t2599.9993;\t24.2;\t0.9;\t2097152.0;\t138411.2;\t0.0;\t7.8;\t2.0;\t4.6\n')).toBe('bitbrains');
    expect(detectFormat('a.csv', 'timestamp,value\n2014-02-14 14:30:00,0.132\n')).toBe('nab');
    expect(detectFormat('a.dat', 'time,cpu [%]\n0,1\n')).toBe('csv');
    expect(detectFormat('a.csv', 'time\tcpu\n0\t1\n')).toBe('csv');
    expect(detectFormat('q.csv', '{"status":"success","data":{"resultType":"matrix","result":[]}}')).toBe('prometheus');
    expect(detectFormat('q', '\uFEFF  [{"metric":{},"values":[[1,"2"]]}]')).toBe('prometheus');
  });
  it('reports an empty head as an empty file (INPUT_INVALID)', () => {
    expect(() => detectFormat('e.csv', ' \n\n')).toThrow(InputError);
  });
  it('rejects unknown content with INPUT_UNSUPPORTED naming the file', () => {
    for (const head of ['just some words\nmore words\n', '{"hello":1}', 'PK\u0003\u0004\u0000\u0000binary']) {
      try {
        detectFormat('/x/notes.md', head);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UmbraError);
        expect((e as UmbraError).code).toBe('INPUT_UNSUPPORTED');
        expect((e as UmbraError).where()).toMatch(/^\/x\/notes\.md: unknown input format/);
      }
    }
  });
});
