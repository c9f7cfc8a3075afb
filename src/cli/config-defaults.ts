import { loadConfigFile, formatConfigIssues } from '../config/index.js';
import { UmbraError } from '../core/errors.js';

/** Forecast defaults (horizons, levels, models, lstm) from a policy file; invalid → exit 2. */
export async function forecastDefaultsFromConfig(file: string) {
  const r = loadConfigFile(file);
  if (!r.ok) throw new UmbraError('CONFIG_INVALID', `invalid policy file:\n${formatConfigIssues(file, r.errors).join('\n')}`, { file });
  const f = r.config.forecast;
  return { horizons: f.horizons, levels: f.levels, ...(f.models ? { models: f.models } : {}), lstm: f.lstm };
}
