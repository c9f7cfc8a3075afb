/**
 * Resolves on the first SIGTERM/SIGINT or when `signal` aborts, whichever comes first; removes
 * its handlers after, so long-running commands (server, agent) stop the same way.
 */
export function waitForStop(signal: AbortSignal | undefined, onSignal: (sig: NodeJS.Signals) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const handler = (sig: NodeJS.Signals) => {
      onSignal(sig);
      done();
    };
    process.once('SIGTERM', handler);
    process.once('SIGINT', handler);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}
