/** The policy file: one zod schema, its loading with placed errors, and policy resolution. */
export * from './schema.js';
export { type ConfigIssue, formatPath } from './issues.js';
export { type ConfigLoadResult, type ParseConfigOptions, loadConfigFile, parseConfigText } from './load.js';
export { TSIG_SECRET_FIELD, readTsigSecret, resolveTrafficPaths, trafficFileIssues, type ReadFile, type SecretRead } from './traffic-files.js';
export { formatConfigIssues } from './format.js';
export { type CommandOutcome, configCheckCommand, checkOutcome, summarizeConfig } from './check-command.js';
export { type VmIdentity, resolvePolicy, groupMatches, globToRegExp } from './resolve.js';
export { configReference } from './reference.js';
export { ConfigInvalidError, requireConfigFile } from './config-error.js';
