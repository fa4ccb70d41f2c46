// The scripted traffic: 200 transfers among the 20 accounts, the same every run (a seeded random
// source), with some that compliance rejects, some without funds and some to a closed account.
import { CLOSED, CUSTOMERS, FLAGGED, LIMIT_CENTS, NEARLY_EMPTY } from "./accounts.js";

export interface Transfer {
  readonly transferId: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
}

export const TRANSFERS = 200;

/** mulberry32: a small seeded generator, so every run sends the same transfers. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Transfer ids carry the run's id: saga ids and step message ids must be new in every run. */
export function scenario(run: string): Transfer[] {
  const next = random(19);
  const pick = (among: readonly string[]) => among[Math.floor(next() * among.length)]!;
  const ordinary = CUSTOMERS.filter((id) => id !== FLAGGED && id !== CLOSED && id !== NEARLY_EMPTY);
  const transfers: Transfer[] = [];
  for (let n = 1; n <= TRANSFERS; n++) {
    const from = n % 15 === 5 ? NEARLY_EMPTY : pick(ordinary);
    let to = n % 20 === 11 ? CLOSED : n % 25 === 3 ? FLAGGED : pick(ordinary);
    while (to === from) to = pick(ordinary);
    const amount =
      n % 40 === 7
        ? LIMIT_CENTS + 500_000
        : from === NEARLY_EMPTY
          ? 1_200
          : 100 + Math.floor(next() * 50_000);
    transfers.push({ transferId: `t-${run}-${String(n).padStart(3, "0")}`, from, to, amount });
  }
  return transfers;
}
