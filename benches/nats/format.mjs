// Numbers as the NATS bench prints them, and the median it reads rounds with.

/** Middle value (mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
/** A count or rate: whole, with thousands separators. */
export const fmt = (n) => Math.round(n).toLocaleString("en-US");
/** Microseconds: 2 decimals below 10, 1 below 100, whole above. */
export const us = (n) => (n >= 100 ? fmt(n) : n.toFixed(n >= 10 ? 1 : 2));
