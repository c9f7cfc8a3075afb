import { UmbraError, type ErrorContext } from '../core/errors.js';

/** The steps of an image build, as reported in progress events and errors. */
export type ImageBuildStep = 'host-tools' | 'resolve' | 'download' | 'extract' | 'kernel' | 'modules' | 'service' | 'initramfs' | 'cache' | 'disk';

/**
 * The guest image (or a data disk) could not be built. `step` says where; `stderr` holds the
 * tail of the failing command's error output. Retryable when a download failed (the Debian
 * mirror may come back), not when the recipe itself is broken.
 */
export class ImageBuildError extends UmbraError {
  readonly step: ImageBuildStep;
  constructor(step: ImageBuildStep, message: string, context: ErrorContext & { stderr?: string; command?: string } = {}, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(opts.retryable ? 'SOURCE_UNAVAILABLE' : 'INTERNAL', message, { ...context, step }, opts);
    this.name = 'ImageBuildError';
    this.step = step;
  }
}
