import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from '../traffic/dns/tsig.js';
import { modelNames } from '../forecast/models/index.js';
import { duration } from './duration-schema.js';
import { bool, integer, nonEmptyString, numberBetween, oneOf, positive } from './fields.js';
import { checkCriteria } from '../failover/criteria/parse.js';

/**
 * The one schema of Umbra's YAML policy file. It yields the TypeScript type ({@link UmbraConfig}),
 * the defaults (an empty file is a valid file), the validation (every invalid field, unknown keys
 * included) and the docs (`.describe()` on every field; see `configReference()`).
 *
 * Keys are snake_case as in the file, so a path in an error message is the path in the file.
 * Durations are parsed to seconds.
 */

/** A `when` for cross-field refinements: run when none of `keys` has an issue of its own. */
function whenValid(...keys: string[]) {
  return (payload: { value: unknown; issues: readonly { path?: readonly PropertyKey[] }[] }): boolean =>
    // `when` also runs when the value is not even a mapping: never then.
    typeof payload.value === 'object' &&
    payload.value !== null &&
    !Array.isArray(payload.value) &&
    !payload.issues.some((i) => keys.includes(String(i.path?.[0])));
}

/** Model names a policy may list: the registry's, plus the recurrent network (loaded on demand). */
const KNOWN_MODELS = [...modelNames(), 'lstm'];

/** Marks a custom issue whose message already says everything (the loader appends no value). */
const NO_VALUE = { noValue: true } as const;

// ---------------------------------------------------------------------------------------------
// forecast

/** How the load profiler forecasts. */
export const forecastSchema = z
  .strictObject({
    horizons: z
      .array(duration(), { error: 'expected a list of durations such as [1h, 6h, 24h]' })
      .min(1, { message: 'expected at least one horizon' })
      .prefault(['1h', '6h', '24h'])
      .describe('Forecast horizons (durations); the longest one sets how far ahead shadows are planned.'),
    levels: z
      .array(numberBetween(0, 100, { exclusive: true }), { error: 'expected a list of interval levels in percent such as [80, 95]' })
      .min(1, { message: 'expected at least one interval level' })
      .superRefine((levels, ctx) => {
        const seen = new Set<number>();
        levels.forEach((l, i) => {
          if (seen.has(l)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate interval level ${l}`, params: NO_VALUE });
          seen.add(l);
        });
      })
      .transform((levels) => [...levels].sort((a, b) => a - b))
      .prefault([80, 95])
      .describe('Prediction-interval levels in percent, each strictly between 0 and 100.'),
    models: z
      .array(
        nonEmptyString('a model name').refine((m) => KNOWN_MODELS.includes(m), {
          message: `unknown model (known: ${KNOWN_MODELS.join(', ')})`,
        }),
        { error: 'expected a list of model names' },
      )
      .min(1, { message: 'expected at least one model (omit the key to allow every model)' })
      .optional()
      .describe('Allow-list of candidate models (omit to let backtests choose among all enabled models).'),
    lstm: bool().prefault(false).describe('Also try the recurrent-network model (slower; off by default).'),
    history: duration()
      .prefault('35d')
      .describe('The most history used per series; older samples are ignored.'),
    schedule: duration()
      .prefault('15m')
      .describe('How often the server re-forecasts every series.'),
  })
  .superRefine(
    (f, ctx) => {
      if (!Array.isArray(f.horizons) || typeof f.history !== 'number') return;
      const longest = Math.max(...f.horizons);
      if (Number.isFinite(longest) && f.history <= longest) {
        ctx.addIssue({ code: 'custom', path: ['history'], message: 'must be longer than the longest horizon' });
      }
    },
    // Cross-field check: run it even when other fields failed, as long as these two are valid.
    { when: whenValid('horizons', 'history') },
  );

// ---------------------------------------------------------------------------------------------
// warm-up tasks

const httpTaskSchema = z.strictObject({
  path: z
    .string({ error: 'expected a URL path starting with "/"' })
    .refine((p) => p.startsWith('/'), { message: 'expected a URL path starting with "/"' })
    .describe('URL path requested inside the shadow, e.g. /healthz.'),
  port: numberBetween(1, 65535, { int: true }).optional().describe("TCP port (default: the VM's service port)."),
  expect_status: numberBetween(100, 599, { int: true }).prefault(200).describe('HTTP status that counts as success.'),
  timeout: duration().prefault('10s').describe('Time allowed for the request.'),
});

const commandTaskSchema = z.strictObject({
  argv: z
    .array(nonEmptyString('a non-empty argument'), {
      error: 'expected a list of arguments such as [/usr/local/bin/check, --quick] (a shell string is never run)',
    })
    .min(1, { message: 'expected at least the program to run' })
    .describe('Program and arguments, run inside the shadow without a shell.'),
  timeout: duration().prefault('60s').describe('Time allowed for the command.'),
});

/** A warm-up task: exactly one of `http` or `command`. */
export const warmupTaskSchema = z
  .strictObject({
    http: httpTaskSchema.optional().describe('An HTTP request inside the shadow.'),
    command: commandTaskSchema.optional().describe('A command inside the shadow (argv array, no shell).'),
  }, { error: 'expected a mapping with either http: or command:' })
  .superRefine((t, ctx) => {
    const n = Number(t.http !== undefined) + Number(t.command !== undefined);
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'expected exactly one of http: or command:' });
  })
  .transform((t): WarmupTask => (t.http ? { http: t.http } : { command: t.command! }));

/** A warm-up task, as the shadow manager runs it. Timeouts are in seconds. */
export type WarmupTask =
  | { http: { path: string; port?: number; expect_status: number; timeout: number } }
  | { command: { argv: string[]; timeout: number } };

// ---------------------------------------------------------------------------------------------
// failover hooks

const hookCommandSchema = z.strictObject({
  argv: z
    .array(nonEmptyString('a non-empty argument'), { error: 'expected a list of arguments such as [/usr/local/bin/drain, "{vm}"] (a shell string is never run)' })
    .min(1, { message: 'expected at least the program to run' })
    .describe('Program and arguments, run without a shell; {vm}, {failover}, {from}, {to}, {path} are replaced in each argument.'),
  timeout: duration().prefault('30s').describe('Time allowed; past it the hook is killed and counts as failed.'),
});
const hookWebhookSchema = z.strictObject({
  url: z
    .string({ error: 'expected an http(s) URL' })
    .refine((u) => /^https?:\/\/\S+$/.test(u) && URL.canParse(u), { message: 'expected an http(s) URL' })
    .describe('POSTed a JSON body {hook, vm, failover, from, to, path, reason}; a 2xx answer is success.'),
  timeout: duration().prefault('10s').describe('Time allowed for the answer.'),
});
/** One hook: a command or a webhook; `veto` (before_fence only): its failure cancels the failover. */
export const failoverHookSchema = z
  .strictObject({
    command: hookCommandSchema.optional(),
    webhook: hookWebhookSchema.optional(),
    veto: z.boolean().prefault(false).describe('before_fence only: a failed hook cancels the failover before anything changed.'),
  }, { error: 'expected a mapping with command: or webhook:' })
  .superRefine((h, ctx) => {
    if (Number(h.command !== undefined) + Number(h.webhook !== undefined) !== 1) ctx.addIssue({ code: 'custom', message: 'expected exactly one of command: or webhook:' });
  });
/** A failover hook as the controller runs it. Timeouts in seconds. */
export type FailoverHook = z.output<typeof failoverHookSchema>;

const failoverHooksSchema = z.strictObject({
  before_fence: z.array(failoverHookSchema).prefault([]).describe('Run before the primary is fenced (a veto hook may cancel the failover).'),
  after_traffic: z.array(failoverHookSchema).prefault([]).describe('Run once traffic goes to the new primary.'),
  after_failover: z.array(failoverHookSchema).prefault([]).describe('Run when the failover is done.'),
}, { error: 'expected a mapping with before_fence:, after_traffic: and/or after_failover:' });

// ---------------------------------------------------------------------------------------------
// policies

const maxFailoversSchema = z.strictObject({
  count: positive({ int: true }).describe('Failovers allowed within the window.'),
  window: duration().describe('The sliding window.'),
}, { error: 'expected a mapping like { count: 3, window: 24h }' });

/**
 * Every policy field: its schema (no default), its default (as written in a file) and its doc.
 * The defaults block and each group override are built from this one table.
 */
const policyFields = {
  shadow_creation_threshold: {
    schema: numberBetween(0, 1),
    default: 0.2,
    doc: 'A shadow is created when the forecast probability of breaching the failover criteria or the allocation within the horizon, weighted by failover_priority, reaches this (0..1).',
  },
  synchronization_mode: {
    schema: oneOf(['sync', 'async', 'periodic'] as const),
    default: 'async' as const,
    doc: 'sync: write-blocking mirror (zero data loss); async: background mirror, lag measured; periodic: incremental copies every synchronization_interval.',
  },
  synchronization_interval: {
    schema: duration(),
    default: '5m',
    doc: 'Copy interval in periodic mode; how often lag is checked otherwise.',
  },
  shadow_flavor: {
    schema: oneOf(['warm', 'migrate'] as const),
    default: 'warm' as const,
    doc: 'warm: booted with services up, takes the disk at promotion (sub-second); migrate: paused -incoming target, live migration keeps process state.',
  },
  warmup_task: {
    schema: warmupTaskSchema,
    default: undefined,
    doc: 'Rehearsal run inside the shadow: { http: { path, expect_status, timeout } } or { command: { argv: [...], timeout } }. Omit to check only that the shadow boots.',
  },
  warmup_interval: {
    schema: duration(),
    default: '1h',
    doc: 'How often the warm-up task is rehearsed.',
  },
  lag_slo: {
    schema: duration(),
    default: '30s',
    doc: 'Replication lag (age of the oldest write not yet on the shadow) above which the shadow is lagging and an alert fires.',
  },
  verify_interval: {
    schema: duration(),
    default: '1h',
    doc: "How often the shadow's disk is proven equal to the primary's (checksums at one point in time; a brief pause is measured and reported).",
  },
  max_shadow_age: {
    schema: duration(),
    default: '24h',
    doc: 'A shadow older than this is refreshed.',
  },
  failover_priority: {
    schema: integer(),
    default: 0,
    doc: 'Integer; higher goes first when budgets or hosts are short.',
  },
  max_data_loss: {
    schema: duration({ allowZero: true }),
    default: '0',
    doc: 'Largest replication lag a promotion may lose; 0 = never promote a shadow that is not synchronized.',
  },
  max_downtime: {
    schema: duration(),
    default: '30s',
    doc: 'Downtime budget of a failover; the plan picks a path that fits it or alerts.',
  },
  failover_criteria: {
    schema: nonEmptyString('a criteria expression such as "cpu > 90% for 5m or host_lost"').superRefine(checkCriteria),
    default: 'state in [crashed, panicked, hung] or host_lost',
    doc: 'When to fail over, e.g. "cpu > 90% for 5m or state in [crashed, panicked, hung] or host_lost".',
  },
  cooldown: {
    schema: duration(),
    default: '10m',
    doc: 'No further failover of the VM for this long after one.',
  },
  probation: {
    schema: duration(),
    default: '30m',
    doc: 'A promoted VM is watched this long before it may fail over again.',
  },
  graceful_shutdown_timeout: {
    schema: duration(),
    default: '10s',
    doc: "After a failover, how long the old primary's guest may take to power off by ACPI (isolated from the network first) before it is killed.",
  },
  max_failovers: {
    schema: maxFailoversSchema,
    default: { count: 3, window: '24h' },
    doc: 'At most count failovers per VM within window; beyond that the VM is left alone and an alert raised.',
  },
  failover_hooks: {
    schema: failoverHooksSchema,
    default: {},
    doc: 'Commands (argv, no shell) or webhooks run at named failover steps, each with a timeout; outcomes are recorded in the failover.',
  },
} as const;

type PolicyFieldTable = typeof policyFields;
type WithDefaults = { [K in keyof PolicyFieldTable]: z.ZodPrefault<PolicyFieldTable[K]['schema']> };
type AsOverrides = { [K in keyof PolicyFieldTable]: z.ZodOptional<PolicyFieldTable[K]['schema']> };

function defaultsShape(): WithDefaults {
  const out: Record<string, z.ZodType> = {};
  for (const [k, f] of Object.entries(policyFields)) {
    const s = f.schema as z.ZodType;
    // warmup_task has no default: it stays optional (prefault(undefined) would run the schema on undefined).
    out[k] = (f.default === undefined ? s.optional() : s.prefault(f.default as never)).describe(f.doc);
  }
  return out as unknown as WithDefaults;
}

function overridesShape(): AsOverrides {
  const out: Record<string, z.ZodType> = {};
  for (const [k, f] of Object.entries(policyFields)) out[k] = (f.schema as z.ZodType).optional().describe(f.doc);
  return out as unknown as AsOverrides;
}

/** Which VMs a group applies to: every given condition must hold. */
export const selectorSchema = z
  .strictObject({
    names: z
      .array(nonEmptyString('a VM name or glob'), { error: 'expected a list of VM names or globs such as [db-*, web-1]' })
      .optional()
      .describe('VM names or globs (* and ?); the VM matches when any one does.'),
    labels: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a label value' }).transform(String), {
        error: 'expected a mapping of label: value',
      })
      .optional()
      .describe('Labels the VM must all carry with these values.'),
  }, { error: 'expected a mapping with names: and/or labels:' })
  .superRefine((s, ctx) => {
    if (!s.names?.length && !s.labels) ctx.addIssue({ code: 'custom', message: 'expected names: or labels: (a group must select something)' });
  });

/** A group of VMs with policy overrides. */
export const policyGroupSchema = z.strictObject({
  name: nonEmptyString('a group name').describe('Group name (unique), shown in decisions and logs.'),
  match: selectorSchema.describe('Which VMs the group applies to.'),
  ...overridesShape(),
}, { error: 'expected a group mapping with name:, match: and policy overrides' });

/** Default policy for every VM, plus per-group overrides. */
export const policiesSchema = z.strictObject({
  ...defaultsShape(),
  groups: z
    .array(policyGroupSchema, { error: 'expected a list of groups' })
    .superRefine((groups, ctx) => {
      const seen = new Map<string, number>();
      groups.forEach((g, i) => {
        const first = seen.get(g.name);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate group name "${g.name}" (also used by groups[${first}])`, params: NO_VALUE });
        else seen.set(g.name, i);
      });
    })
    .prefault([])
    .describe('Per-VM/group overrides. Every matching group applies in file order; a later group overrides an earlier one.'),
});

// ---------------------------------------------------------------------------------------------
// budgets

const budgetSchema = z.strictObject({
  cores: positive().optional().describe('vCPU cores reserved for shadows (omit: no limit).'),
  memory_gib: positive().optional().describe('GiB of memory reserved for shadows (omit: no limit).'),
}, { error: 'expected a mapping like { cores: 16, memory_gib: 64 }' });

/** What shadows may cost, in total and on any one host. */
export const budgetsSchema = z
  .strictObject({
    total: budgetSchema.prefault({}).describe('Fleet-wide shadow budget.'),
    per_host: budgetSchema.prefault({}).describe('Shadow budget on any single host.'),
  })
  .superRefine((b, ctx) => {
    if (!b.total || !b.per_host) return;
    for (const k of ['cores', 'memory_gib'] as const) {
      const t = b.total[k];
      const h = b.per_host[k];
      if (t !== undefined && h !== undefined && h > t) {
        ctx.addIssue({ code: 'custom', path: ['per_host', k], message: `must not exceed budgets.total.${k} (${t})` });
      }
    }
  }, { when: whenValid('total', 'per_host') });

// ---------------------------------------------------------------------------------------------
// the file

// ---------------------------------------------------------------------------------------------
// alerts

const httpUrl = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .refine((u) => /^https?:\/\/[^\s]+$/.test(u) && URL.canParse(u), { message: `expected ${what}` });

/** Where alerts go. */
export const alertsSchema = z.strictObject({
  webhook_url: httpUrl('an http(s) URL').optional().describe('POST every alert change as JSON (Alertmanager webhook format) to this URL.'),
  alertmanager_url: httpUrl("an Alertmanager base URL such as http://127.0.0.1:9093").optional().describe("Alertmanager's API (POST /api/v2/alerts); firing alerts are re-sent every resend_interval."),
  resend_interval: duration().prefault('1m').describe('How often firing alerts are re-sent to Alertmanager.'),
});

// ---------------------------------------------------------------------------------------------
// traffic

/** A DNS name (a zone, a TSIG key name): labels of letters, digits, `-` and `_`, a final dot allowed. */
const DNS_NAME = /^(?=.{1,253}\.?$)([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/;

/** `ADDR:PORT` of a DNS server (`[v6]:PORT` for IPv6; the port defaults to 53) → `{ host, port }`. */
const dnsServerField = () => {
  const message = 'expected ADDR:PORT of the DNS server, such as 10.0.0.53:53 (an IP address; [::1]:53 for IPv6)';
  return z.string({ error: message }).transform((text, ctx): { host: string; port: number } => {
    const m = /^\s*(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?\s*$/.exec(text);
    const host = m?.[1] ?? m?.[2];
    const port = m?.[3] === undefined ? 53 : Number(m[3]);
    const ok = host !== undefined && (m?.[1] !== undefined ? isIPv6(host) : isIPv4(host)) && port >= 1 && port <= 65_535;
    if (!ok) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return { host: host!, port };
  });
};

const tsigSchema = z.strictObject({
  name: nonEmptyString('a TSIG key name such as umbra-key')
    .refine((n) => DNS_NAME.test(n), { message: 'expected a TSIG key name (letters, digits, dots, dashes)' })
    .describe('The key\'s name, as in the DNS server\'s `key "NAME" { ... }`.'),
  algorithm: oneOf(Object.keys(TSIG_ALGORITHMS) as [TsigAlgorithm, ...TsigAlgorithm[]])
    .prefault('hmac-sha256')
    .describe('The HMAC algorithm of the key.'),
  secret_file: nonEmptyString('the path of a file holding the base64 secret')
    .describe("File holding the key's secret in base64 (as tsig-keygen prints it), mode 0600; relative to the policy file. Its content is never logged or printed."),
}, { error: 'expected a mapping like { name: umbra-key, secret_file: /etc/umbra/tsig.secret }' });

/** Where each VM's clients are sent: HAProxy's runtime API, DNS updates, or both at once. */
export const trafficSchema = z.strictObject({
  haproxy: z
    .strictObject({
      socket: nonEmptyString("the path of HAProxy's admin socket")
        .describe("HAProxy's admin socket (`stats socket PATH level admin`); relative to the policy file. Backend `be_<vm>`, server `active`."),
    }, { error: 'expected a mapping like { socket: /run/haproxy/admin.sock }' })
    .optional()
    .describe("Switch traffic through HAProxy's runtime API (`umbra server --haproxy-socket` overrides the socket)."),
  dns: z
    .strictObject({
      server: dnsServerField().describe("The zone's primary (authoritative) server, ADDR:PORT; it must accept RFC 2136 updates signed with the key."),
      zone: nonEmptyString('a DNS zone such as svc.example.com')
        .refine((zn) => DNS_NAME.test(zn), { message: 'expected a DNS zone such as svc.example.com' })
        .describe('VM `ID` is published as the A record of `ID.<zone>`: the address of the host running its primary.'),
      ttl: duration({ allowZero: true })
        .refine((s) => Number.isInteger(s) && s <= 86_400, { message: 'expected whole seconds up to 1d' })
        .prefault('5s')
        .describe('TTL of the published records; clients follow a switch once their cached answer expires.'),
      tsig: tsigSchema.describe('The TSIG key that signs every update (and query).'),
    }, { error: 'expected a mapping with server:, zone: and tsig:' })
    .optional()
    .describe('Switch traffic by DNS UPDATE (RFC 2136) signed with TSIG. With haproxy: too, both are switched.'),
}, { error: 'expected a mapping with haproxy: and/or dns:' });

/** The whole policy file. */
export const umbraConfigSchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1 (the only policy file version so far)' }).prefault(1).describe('Policy file format version.'),
  forecast: forecastSchema.prefault({}).describe('Load profiler settings.'),
  policies: policiesSchema.prefault({}).describe('Shadowing and failover policies.'),
  budgets: budgetsSchema.prefault({}).describe('Cost limits for shadows.'),
  alerts: alertsSchema.prefault({}).describe('Alert destinations (webhook, Alertmanager).'),
  traffic: trafficSchema.prefault({}).describe('Where failovers switch each VM\'s traffic (HAProxy and/or DNS); none by default.'),
}, { error: 'expected a mapping at the top of the policy file' });

/** A validated policy file with defaults filled in. Durations are in seconds. */
export type UmbraConfig = z.output<typeof umbraConfigSchema>;
/** What may be written in a policy file (before defaults and parsing). */
export type UmbraConfigInput = z.input<typeof umbraConfigSchema>;
/** Forecast settings (durations in seconds). */
export type ForecastConfig = UmbraConfig['forecast'];
/** The `policies` block: defaults plus groups. */
export type PoliciesConfig = UmbraConfig['policies'];
/** One VM group with its overrides. */
export type PolicyGroup = PoliciesConfig['groups'][number];
/** The effective policy of one VM (every field set, except an optional warm-up task). */
export type Policy = Omit<PoliciesConfig, 'groups'>;
/** Alert destinations. */
export type AlertsConfig = UmbraConfig['alerts'];
/** Traffic switches (HAProxy, DNS); paths as written until the loader resolves them against the file's directory. */
export type TrafficConfig = UmbraConfig['traffic'];
/** The `traffic.dns` block (server parsed to host and port, TTL in seconds). */
export type DnsTrafficConfig = NonNullable<TrafficConfig['dns']>;
/** Shadow budgets (absent field: no limit). */
export type BudgetsConfig = UmbraConfig['budgets'];

/** The names of every policy field (those a group may override). */
export const POLICY_FIELDS = Object.keys(policyFields) as (keyof Policy)[];
