/** Worker-thread entry: runs forecast jobs posted by the pool, one at a time. */
import { parentPort } from 'node:worker_threads';
import { runForecastJob, toJobError, type ForecastJob } from './job.js';

if (!parentPort) throw new Error('src/fleet/worker.ts must run as a worker thread');
const port = parentPort;
port.on('message', async (job: ForecastJob) => {
  try {
    const res = await runForecastJob(job);
    port.postMessage({ ok: true, result: res });
  } catch (e) {
    port.postMessage({ ok: true, result: { id: job.id, forecasts: [], errors: [toJobError(e)] } });
  }
});
