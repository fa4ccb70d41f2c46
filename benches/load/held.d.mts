// Types of held.mjs, for the tests that import it.
export interface RunFigures {
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly rps: number;
}
export interface SweepRow {
  readonly rate: number;
  readonly mode: string;
  readonly held: boolean;
  readonly p99: readonly number[];
}
export interface SweepVerdict {
  readonly mode: string;
  readonly within: number[];
  readonly outside: number[];
  readonly highestWithin: number | undefined;
  readonly contiguous: number | undefined;
  readonly highestHeld: number | undefined;
}
export function heldAt(run: RunFigures, rate: number): boolean;
export function sweepVerdicts(rows: readonly SweepRow[], bound: number): SweepVerdict[];
