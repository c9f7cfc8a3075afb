// @ts-check
/**
 * What one failover run measured, from the client's acknowledgements and the failover record:
 * the client-visible outage, the acknowledged records missing from the log, the step timings.
 * Pure: times are epoch ms passed in.
 */

/**
 * @typedef {object} Outage
 * @property {number | null} lastGoodBefore  epoch ms of the last good response before the outage (null: none before it)
 * @property {number | null} firstGoodAfter  epoch ms of the first good response after it (null: service never came back)
 * @property {number | null} gapMs           firstGoodAfter − lastGoodBefore (from the fault when there was no good response before it)
 * @property {number | null} faultToFirstGoodMs  firstGoodAfter − the fault
 */

/**
 * The client-visible outage around a fault: the longest interval without a good response,
 * among the good responses from the last one at or before the fault up to the first one at or
 * after `untilAt` (the failover's end: by then traffic has been switched). Taking the longest
 * interval, not simply "the first good response after the fault", keeps a response already on
 * its way when the fault hit (a few ms after it) from passing for the recovery.
 * @param {readonly number[]} goodAt  epoch ms of each good response (any order)
 * @param {number} faultAt            epoch ms the fault was injected
 * @param {number | null} untilAt     epoch ms by which the service is back (null: consider every response)
 * @returns {Outage}
 */
export function outage(goodAt, faultAt, untilAt) {
  const t = [...goodAt].sort((a, b) => a - b);
  let i0 = -1;
  for (let i = 0; i < t.length; i++) if (t[i] <= faultAt) i0 = i;
  /** @type {number[]} */
  const seq = [i0 >= 0 ? t[i0] : faultAt];
  for (let i = i0 + 1; i < t.length; i++) {
    seq.push(t[i]);
    if (untilAt !== null && t[i] >= untilAt) break;
  }
  if (seq.length < 2) return { lastGoodBefore: i0 >= 0 ? t[i0] : null, firstGoodAfter: null, gapMs: null, faultToFirstGoodMs: null };
  let k = 0;
  for (let j = 1; j < seq.length - 1; j++) if (seq[j + 1] - seq[j] > seq[k + 1] - seq[k]) k = j;
  const noneBefore = i0 < 0 && k === 0;
  return {
    lastGoodBefore: noneBefore ? null : seq[k],
    firstGoodAfter: seq[k + 1],
    gapMs: seq[k + 1] - seq[k],
    faultToFirstGoodMs: seq[k + 1] - faultAt,
  };
}

/**
 * The acknowledged lines that are not lines of `logText` (whole-line matches: `rec-1` is not
 * found in `rec-10`).
 * @param {readonly string[]} acked
 * @param {string} logText
 * @returns {string[]}
 */
export function missingLines(acked, logText) {
  const have = new Set(logText.split('\n').map((l) => l.replace(/\r$/, '')));
  return acked.filter((l) => !have.has(l));
}

/**
 * @typedef {object} StepRecord  a failover step as the server records it (epoch ms)
 * @property {string} name
 * @property {number} startedAt
 * @property {number | null} endedAt
 * @property {boolean | null} ok
 * @property {string} detail
 */

/**
 * @typedef {object} StepTiming
 * @property {string} name
 * @property {number | null} ms   null while unfinished
 * @property {boolean | null} ok
 */

/**
 * Each step's duration.
 * @param {readonly StepRecord[]} steps
 * @returns {StepTiming[]}
 */
export function stepTimings(steps) {
  return steps.map((s) => ({ name: s.name, ms: s.endedAt === null ? null : s.endedAt - s.startedAt, ok: s.ok }));
}

/**
 * When, relative to the fault, the controller started the failover (detection), when traffic
 * was switched (the end of its `traffic` step) and when it ended.
 * @param {{ startedAt: number, endedAt: number | null, steps: readonly StepRecord[] }} f
 * @param {number} faultAt
 */
export function failoverPhases(f, faultAt) {
  const traffic = f.steps.find((s) => s.name === 'traffic');
  return {
    detectMs: f.startedAt - faultAt,
    pipelineMs: f.endedAt === null ? null : f.endedAt - f.startedAt,
    faultToTrafficMs: traffic?.endedAt != null ? traffic.endedAt - faultAt : null,
    faultToEndMs: f.endedAt === null ? null : f.endedAt - faultAt,
  };
}

/**
 * Why a failover did not happen or did not finish, in one line: the failed step and its detail,
 * else the firing alerts about the VM, else what was waited for.
 * @param {{ state: string, steps: readonly StepRecord[] } | null} f
 * @param {readonly { kind: string, summary: string }[]} alerts  firing alerts about the VM
 * @param {string} waited  e.g. "no failover started within 90 s"
 * @returns {string}
 */
export function whyNot(f, alerts, waited) {
  if (f && f.state !== 'done' && f.state !== 'running') {
    const last = f.steps.at(-1);
    return `failover ${f.state}${last ? ` at ${last.name}: ${last.detail}` : ''}`;
  }
  const a = alerts.map((x) => `${x.kind}: ${x.summary}`);
  return a.length ? `${waited}; alerts: ${a.join(' | ')}` : waited;
}
