/**
 * Loading tfjs and choosing its backend for the recurrent model.
 *
 * tfjs is imported lazily (`import()`), so that registering the LSTM model costs nothing until
 * it is first used (tfjs takes ~0.7 s and ~100 MB to load). The wasm backend loads its `.wasm`
 * binary itself: in Node, tfjs-backend-wasm's node build reads it from its own `dist/` folder
 * (beside `tf-backend-wasm.node.js`) with `fs`, so no `setWasmPaths` is needed; the loader is the
 * only file I/O the model does. If wasm cannot initialise, the `cpu` backend (pure JS, ~3x
 * slower) is used and the reason is logged.
 *
 * tfjs holds one global engine and backend per process (per worker thread). Every use of it by
 * this model goes through {@link runExclusive}, so concurrent forecasts never interleave their
 * training (bounded memory, reproducible results) and never switch the backend under each other.
 */
import type * as TF from '@tensorflow/tfjs';

/** The tfjs namespace, as loaded. */
export type Tf = typeof TF;

/** Backends the model can run on. */
export type LstmBackendName = 'wasm' | 'cpu';

/** Logger shape (pino-compatible: fields first, then a fixed message). */
export interface LstmLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** What {@link initLstmBackend} set up. */
export interface LstmBackendInfo {
  /** The backend in use. */
  backend: LstmBackendName;
  /** The backend that was asked for. */
  requested: LstmBackendName;
  /** Why the requested backend was not used (absent when it was). */
  fallbackReason?: string;
}

/** Options of {@link initLstmBackend}. */
export interface LstmBackendOptions {
  /** Backend to try first; default `wasm`. */
  backend?: LstmBackendName;
  /** Where a fallback is reported; default: one JSON line on stderr. */
  log?: LstmLogger;
}

const stderrLogger: LstmLogger = {
  warn(fields, msg) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...fields })}\n`);
  },
};

let tfPromise: Promise<Tf> | null = null;
const inits = new Map<LstmBackendName, Promise<LstmBackendInfo>>();
let queue: Promise<unknown> = Promise.resolve();

/** Loads tfjs and registers the wasm backend (once per process). */
export function loadTf(): Promise<Tf> {
  if (!tfPromise) {
    tfPromise = (async () => {
      const tf = await import('@tensorflow/tfjs');
      // Registers the 'wasm' backend with the engine as a side effect.
      await import('@tensorflow/tfjs-backend-wasm');
      // Production mode: no debug checks and no console warnings (such as the cpu backend's
      // "install tfjs-node" banner) from inside tfjs.
      tf.enableProdMode();
      return tf;
    })();
    tfPromise.catch(() => {
      tfPromise = null;
    });
  }
  return tfPromise;
}

/**
 * Initialises tfjs on the requested backend (default wasm), falling back to `cpu` with a logged
 * reason when it cannot start. Idempotent: later calls return the first result for the same
 * request, and re-select that backend if another one was selected since.
 */
export async function initLstmBackend(opts: LstmBackendOptions = {}): Promise<LstmBackendInfo> {
  const requested = opts.backend ?? 'wasm';
  let init = inits.get(requested);
  if (!init) {
    init = startBackend(requested, opts.log ?? stderrLogger);
    inits.set(requested, init);
    init.catch(() => inits.delete(requested));
  }
  const info = await init;
  const tf = await loadTf();
  if (tf.getBackend() !== info.backend) {
    await tf.setBackend(info.backend);
    await tf.ready();
  }
  return info;
}

async function startBackend(requested: LstmBackendName, log: LstmLogger): Promise<LstmBackendInfo> {
  const tf = await loadTf();
  if (requested === 'cpu') {
    await selectCpu(tf);
    return { backend: 'cpu', requested };
  }
  let reason: string;
  try {
    // setBackend resolves false (rather than throwing) when the backend's init fails.
    const ok = await tf.setBackend('wasm');
    if (ok) {
      await tf.ready();
      return { backend: 'wasm', requested };
    }
    // tfjs swallows the loader's error (it is printed on stderr by the wasm module itself).
    reason = 'tf.setBackend("wasm") returned false: the wasm binary could not be loaded or compiled';
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
  }
  log.warn({ requested, backend: 'cpu', reason }, 'lstm: wasm backend unavailable, using cpu');
  await selectCpu(tf);
  return { backend: 'cpu', requested, fallbackReason: reason };
}

async function selectCpu(tf: Tf): Promise<void> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('tfjs cpu backend failed to initialise');
  await tf.ready();
}

/**
 * Runs `fn` after every earlier call has settled: one tfjs job at a time in this process.
 */
export function runExclusive<T>(fn: () => Promise<T>): Promise<T> {
  // `queue` never rejects (see below), so `fn` runs exactly once, after the previous job.
  const run = queue.then(() => fn());
  queue = run.catch(() => undefined);
  return run;
}
