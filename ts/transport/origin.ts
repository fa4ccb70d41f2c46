import type { Envelope } from "../mediator/transport.js";

/**
 * Names the service that published an event, so its own instances skip it (they handled it in
 * process). Stamped by the transport on publish, removed before handlers see the envelope.
 */
export const ORIGIN_HEADER = "catga-origin-service";

/** The header name as bytes, compared in place by the envelope reader. */
export const ORIGIN_KEY_BYTES = Buffer.from(ORIGIN_HEADER);

/** The envelope without the transport's origin header, which handlers never see. */
export function withoutOrigin(envelope: Envelope): Envelope {
  if (!(ORIGIN_HEADER in envelope.headers)) return envelope;
  const { [ORIGIN_HEADER]: _origin, ...headers } = envelope.headers;
  return { ...envelope, headers };
}
