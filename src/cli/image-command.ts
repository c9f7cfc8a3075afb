/**
 * `umbra image build [--json] [--force] [--cache-dir DIR]`: builds (or finds in the cache) the
 * lab guest image and prints where its kernel and initramfs are. Progress goes to stderr.
 */
import { performance } from 'node:perf_hooks';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';

/** Options of `umbra image build`. */
export interface ImageBuildArgs {
  json?: boolean;
  force?: boolean;
  cacheDir?: string;
  quiet?: boolean;
}

/** Runs `umbra image build`; resolves with the exit status (errors propagate to the CLI's mapping). */
export async function imageBuildCommand(opts: ImageBuildArgs, io: IO): Promise<number> {
  const { buildImage } = await import('../guest/index.js');
  const t0 = performance.now();
  const image = await buildImage({
    cacheDir: opts.cacheDir,
    force: opts.force,
    onProgress: opts.quiet ? undefined : (e) => io.stderr(`umbra image: ${e.message}\n`),
  });
  const seconds = Math.round((performance.now() - t0) / 10) / 100;
  if (opts.json) {
    const { kernel, initrd, hash, cached, kernelVersion, dir } = image;
    io.stdout(JSON.stringify({ kernel, initrd, hash, cached, kernelVersion, dir, seconds }) + '\n');
  } else {
    io.stdout(
      `kernel  ${image.kernel}\ninitrd  ${image.initrd}\nhash    ${image.hash}${image.cached ? ' (cached)' : ''}\n` +
        `linux   ${image.kernelVersion}\ntime    ${seconds} s\n`,
    );
  }
  return EXIT.OK;
}
