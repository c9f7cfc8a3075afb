import cliProgress from 'cli-progress';

/** A progress bar on stderr when it is a TTY (and not --quiet); silent otherwise. */
export interface Progress {
  tick(done: number, total: number, label?: string): void;
  stop(): void;
}

export function makeProgress(title: string, total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled || total < 2) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {value}/{total} {label} eta {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    tick: (done, _t, label = '') => bar.update(done, { label }),
    stop: () => bar.stop(),
  };
}
