/** The failover criteria language: parse, inspect (thresholds) and evaluate. */
export * from './ast.js';
export * from './errors.js';
export * from './evaluate.js';
export * from './metrics.js';
export * from './parse.js';
export * from './thresholds.js';
export { tokenize, type Token, type TokenKind } from './tokens.js';
