/**
 * The header versions before issue 14 stamped on every event (`catga-origin-service: <service>`)
 * so the publishing service's instances would skip it. Nothing decides anything by it any more;
 * a received one is only dropped before handlers see it, because the messages a handler sends
 * inherit its headers, and instances still on an old version would skip those events (lost for
 * them during a rolling upgrade). Remove once no version older than the one that dropped the
 * header runs.
 */
export const LEGACY_ORIGIN_HEADER = "catga-origin-service";

/** The header name as bytes, skipped in place by the envelope reader. */
export const LEGACY_ORIGIN_KEY_BYTES: Uint8Array = Buffer.from(LEGACY_ORIGIN_HEADER);

/** The headers without the legacy origin header (the same value when it has none, or is no object). */
export function withoutLegacyOrigin(headers: Record<string, string>): Record<string, string> {
  // A foreign sender's envelope may hold anything here: only an object can have the header.
  if (typeof headers !== "object" || headers === null || !(LEGACY_ORIGIN_HEADER in headers)) return headers;
  const { [LEGACY_ORIGIN_HEADER]: _dropped, ...rest } = headers;
  return rest;
}
