/**
 * Runs forecast jobs across worker threads, at most `workers` at once. Jobs are handed out one
 * at a time as workers free up, so memory stays bounded by (workers × one input) plus results,
 * however large the fleet. Falls back to in-process execution for a single job or workers = 0.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { runForecastJob, toJobError, type ForecastJob, type JobResult } from './job.js';

export interface PoolOptions {
  /** Worker threads; default: available cores. 0 runs in-process. */
  workers?: number;
  /** Called after each job completes. */
  onProgress?: (done: number, total: number, result: JobResult) => void;
}

/** The compiled worker script (workers run JavaScript from dist/, also under vitest). */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  // Running from src/ (tests through vitest): use the build output.
  return new URL('../../dist/fleet/worker.js', import.meta.url);
}

export async function runJobs(jobs: ForecastJob[], opts: PoolOptions = {}): Promise<JobResult[]> {
  const total = jobs.length;
  const results: JobResult[] = new Array(total);
  let done = 0;
  const n = Math.max(0, Math.min(opts.workers ?? availableParallelism(), total));
  if (n <= 1 || total <= 1) {
    for (let i = 0; i < total; i++) {
      results[i] = await runForecastJob(jobs[i]);
      opts.onProgress?.(++done, total, results[i]);
    }
    return results;
  }
  const url = workerUrl();
  let next = 0;
  const byId = new Map(jobs.map((j, i) => [j.id, i]));
  await Promise.allSettled(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve) => {
        const w = new Worker(url);
        let current: ForecastJob | undefined;
        const feed = () => {
          if (next >= total) {
            current = undefined;
            void w.terminate().then(() => resolve());
            return;
          }
          current = jobs[next++];
          w.postMessage(current);
        };
        w.on('message', (msg: { result: JobResult }) => {
          const idx = byId.get(msg.result.id)!;
          results[idx] = msg.result;
          opts.onProgress?.(++done, total, msg.result);
          feed();
        });
        w.on('error', (err) => {
          // A crashed worker fails its current job only; the queue goes on in the other workers.
          if (current) {
            const idx = byId.get(current.id)!;
            results[idx] = { id: current.id, forecasts: [], errors: [toJobError(err)] };
            opts.onProgress?.(++done, total, results[idx]);
          }
          resolve();
        });
        feed();
      }),
    ),
  );
  // If every worker died, finish what is left in-process so nothing is lost.
  for (let i = 0; i < total; i++) {
    if (!results[i]) {
      results[i] = await runForecastJob(jobs[i]);
      opts.onProgress?.(++done, total, results[i]);
    }
  }
  return results;
}
