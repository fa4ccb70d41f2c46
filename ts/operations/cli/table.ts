/** Plain-text tables and values for the CLI's readable output (`--json` skips all of this). */

/** Columns padded to their widest cell; cells longer than `maxWidth` are cut with "…". */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  maxWidth = 48,
): string {
  const cut = (cell: string) => (cell.length > maxWidth ? `${cell.slice(0, maxWidth - 1)}…` : cell);
  const cells = [headers, ...rows].map((row) => row.map((cell) => cut(cell.replace(/\s+/g, " "))));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Epoch ms as an ISO time, or "-" when unknown. */
export function time(ms: number | undefined): string {
  return ms === undefined || ms <= 0 ? "-" : new Date(ms).toISOString();
}

/** "key: value" lines, the keys aligned. */
export function fields(entries: readonly (readonly [string, string])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n");
}

/** JSON that survives Buffers, BigInts and Uint8Arrays (as base64). */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Uint8Array) return { base64: Buffer.from(v).toString("base64") };
      if (
        v &&
        typeof v === "object" &&
        (v as { type?: unknown }).type === "Buffer" &&
        Array.isArray((v as { data?: unknown }).data)
      )
        return { base64: Buffer.from((v as { data: number[] }).data).toString("base64") };
      return v;
    },
    2,
  );
}
