/** Input readers: files and live sources in, RawSeries out. */
export { readFile, readInputs, iterInputs, seriesIdOf, expandInputs } from './read.js';
export type { ReadInputsOptions, ReadInputsResult, FileOutcome } from './read.js';
export { detectFormat } from './detect.js';
export { fetchPrometheusRange, parsePrometheusResponse } from './prometheus.js';
export type { PrometheusRangeQuery } from './prometheus.js';
export { INPUT_FORMATS, isInputFormat } from './formats.js';
export type { InputFormat } from './formats.js';
