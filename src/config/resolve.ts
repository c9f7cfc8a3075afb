import type { PoliciesConfig, Policy, PolicyGroup } from './schema.js';

/** What a group selector is matched against. */
export interface VmIdentity {
  name: string;
  labels?: Record<string, string>;
}

/** `db-*` → /^db-.*$/ ; `*` any run, `?` one character, everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Whether `group` selects `vm`: any of its names (globs) and all of its labels. */
export function groupMatches(group: PolicyGroup, vm: VmIdentity): boolean {
  const { names, labels } = group.match;
  if (names?.length && !names.some((n) => globToRegExp(n).test(vm.name))) return false;
  if (labels) for (const [k, v] of Object.entries(labels)) if (vm.labels?.[k] !== v) return false;
  return true;
}

/**
 * The effective policy of one VM: the defaults, then every matching group in file order (a later
 * group's field overrides an earlier one's). Also returns the names of the groups applied.
 */
export function resolvePolicy(policies: PoliciesConfig, vm: VmIdentity): { policy: Policy; groups: string[] } {
  const { groups, ...defaults } = policies;
  const policy: Policy = { ...defaults };
  const applied: string[] = [];
  for (const g of groups) {
    if (!groupMatches(g, vm)) continue;
    applied.push(g.name);
    const { name: _name, match: _match, ...overrides } = g;
    for (const [k, v] of Object.entries(overrides)) {
      if (v !== undefined) (policy as Record<string, unknown>)[k] = v;
    }
  }
  return { policy, groups: applied };
}
