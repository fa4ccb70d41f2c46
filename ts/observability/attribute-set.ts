// Attributes made once per message type and route, shared by its spans and its metrics.
import { Attr } from "./names.js";
import type { OtelAttributes } from "./otel.js";

/** Attributes for one message type and route, with one outcome variant per code (made once, reused). */
export class AttributeSet {
  readonly base: OtelAttributes;
  readonly span: OtelAttributes;
  readonly spanName: string;
  /** Span options made once (kind + attributes): nothing allocated per span for them. */
  readonly spanOptions: { readonly kind: number; readonly attributes: OtelAttributes };
  private readonly outcomes = new Map<string, OtelAttributes>();

  constructor(base: OtelAttributes, span: OtelAttributes, spanName: string, spanKind: number) {
    this.spanOptions = { kind: spanKind, attributes: span };
    this.base = base;
    this.span = span;
    this.spanName = spanName;
  }

  outcome(code: string): OtelAttributes {
    let attributes = this.outcomes.get(code);
    if (attributes === undefined) {
      // Codes are few in practice; past 256 distinct ones they share "other" (bounded cardinality).
      const key = this.outcomes.size < 256 ? code : "other";
      attributes = this.outcomes.get(key) ?? { ...this.base, [Attr.outcome]: key };
      this.outcomes.set(key, attributes);
    }
    return attributes;
  }
}
