/**
 * Shadow budgets (the policy's `budgets`): what shadows may reserve in total and on any one host,
 * in vCPU cores and GiB. Absent limits are unlimited. Pure; a {@link BudgetLedger} is a local
 * tally one planning pass fills as it places shadows.
 */
import type { BudgetsConfig } from '../config/schema.js';

/** A shadow's reservation. */
export interface Reservation {
  vcpus: number;
  memoryMiB: number;
}

/** Remaining-budget check result. */
export interface BudgetCheck {
  ok: boolean;
  /** `total budget: 14 of 16 cores used, 4 more needed` when not ok. */
  detail: string;
}

/** Tallies shadow reservations against the budgets. */
export class BudgetLedger {
  private total: Reservation = { vcpus: 0, memoryMiB: 0 };
  private readonly perHost = new Map<string, Reservation>();

  constructor(
    private readonly budgets: BudgetsConfig,
    existing: readonly { host: string; size: Reservation }[] = [],
  ) {
    for (const s of existing) this.add(s.host, s.size);
  }

  /** Records a reservation on `host`. */
  add(host: string, r: Reservation): void {
    this.total = { vcpus: this.total.vcpus + r.vcpus, memoryMiB: this.total.memoryMiB + r.memoryMiB };
    const h = this.perHost.get(host) ?? { vcpus: 0, memoryMiB: 0 };
    this.perHost.set(host, { vcpus: h.vcpus + r.vcpus, memoryMiB: h.memoryMiB + r.memoryMiB });
  }

  /** What shadows reserve in total. */
  used(host?: string): Reservation {
    return host === undefined ? { ...this.total } : { ...(this.perHost.get(host) ?? { vcpus: 0, memoryMiB: 0 }) };
  }

  /** Whether `r` more fits the total budget. */
  fitsTotal(r: Reservation): BudgetCheck {
    return check('total budget', this.total, r, this.budgets.total ?? {});
  }

  /** Whether `r` more fits the per-host budget on `host`. */
  fitsHost(host: string, r: Reservation): BudgetCheck {
    return check(`per-host budget on ${host}`, this.used(host), r, this.budgets.per_host ?? {});
  }
}

function check(what: string, used: Reservation, r: Reservation, limit: { cores?: number; memory_gib?: number }): BudgetCheck {
  if (limit.cores !== undefined && used.vcpus + r.vcpus > limit.cores + 1e-9) {
    return { ok: false, detail: `${what}: ${used.vcpus} of ${limit.cores} cores used, ${r.vcpus} more needed` };
  }
  if (limit.memory_gib !== undefined && used.memoryMiB + r.memoryMiB > limit.memory_gib * 1024 + 1e-9) {
    return { ok: false, detail: `${what}: ${gib(used.memoryMiB)} of ${limit.memory_gib} GiB used, ${gib(r.memoryMiB)} more needed` };
  }
  return { ok: true, detail: '' };
}

function gib(mib: number): string {
  return `${Math.round((mib / 1024) * 100) / 100}`;
}
