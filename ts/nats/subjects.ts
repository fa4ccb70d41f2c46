/**
 * Whether NATS accepts `subject` for a publish: what async-nats checks (non-empty, no leading or
 * trailing dot, no empty token, no space, tab, CR or LF). Checked in JS, per message, because the
 * engine sends a batch as one unit: a bad subject found there would fail every message with it.
 */
export function isPublishSubject(subject: unknown): subject is string {
  return typeof subject === "string" && VALID.test(subject);
}

const VALID = /^(?!\.)(?!.*\.\.)(?!.*\.$)[^ \t\r\n]+$/;
