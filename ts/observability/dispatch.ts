// Spans and measurements around the mediator pipeline: its dispatch hook, its innermost behavior.
import type { HandlerContext, Headers } from "../mediator/context.js";
import type { ContractKind } from "../mediator/contracts.js";
import type { DispatchHook } from "../mediator/mediator.js";
import {
  type Behavior,
  type BehaviorContext,
  markBuiltIn,
  type PipelineTarget,
} from "../mediator/pipeline.js";
import type { Result } from "../mediator/result.js";
import { AttributeSet } from "./attribute-set.js";
import { type Instruments, seconds } from "./metrics.js";
import { Attr } from "./names.js";
import {
  extractTraceContext,
  injectTraceContext,
  type OtelApi,
  type OtelAttributes,
  type OtelContext,
  type OtelSpan,
  type OtelTracer,
} from "./otel.js";
import {
  describeMessage,
  endSpan,
  hasContextManager,
  NO_SPAN,
  operationOf,
  type ParentEntry,
  SPAN_KIND_CLIENT,
  SPAN_KIND_CONSUMER,
  SPAN_KIND_PRODUCER,
} from "./tracing.js";

/** Behaviors of this priority run innermost: a handler span times one handler execution (one retry attempt). */
export const OBSERVABILITY_PRIORITY = Number.MIN_SAFE_INTEGER;

/**
 * The dispatch hook and handler behavior of one `CatgaObservability`, with the state they share:
 * the tracer, the dispatch instruments, the parent of each message's spans.
 */
export class DispatchInstrumentation {
  /** `messaging.system` for messages that cross the transport (`useTransportName` may set it). */
  wireSystem: string;
  private readonly api: OtelApi | undefined;
  private readonly tracer: OtelTracer | undefined;
  private readonly instruments: Instruments | undefined;
  /** Parent context per headers object: the send span (local) or the remote parent (inbound). */
  private readonly parents = new WeakMap<Headers, ParentEntry>();
  /** The handler span per handler context, so messages a handler sends become its children. */
  private readonly handlerContexts = new WeakMap<object, OtelContext>();
  /** Per type: one attribute set per (route, kind), indexed `route * 3 + kind` (no key strings per call). */
  private readonly attributeSets = new Map<string, (AttributeSet | undefined)[]>();
  /**
   * True when a context manager carries the active context across awaits (NodeSDK registers
   * AsyncLocalStorage): parents then come from the active context alone. Without one, parents are
   * found through weak maps keyed by the message's headers and the handler's context.
   */
  private readonly ambient: boolean;
  private readonly inboundKey: symbol | undefined;
  /** Ambient mode: carries an inbound message's batch size (when > 1) to its handler spans. */
  private readonly batchKey: symbol | undefined;

  constructor(
    api: OtelApi | undefined,
    tracer: OtelTracer | undefined,
    instruments: Instruments | undefined,
    wireSystem: string,
  ) {
    this.api = api;
    this.tracer = tracer;
    this.instruments = instruments;
    this.wireSystem = wireSystem;
    this.ambient = api !== undefined && hasContextManager(api);
    this.inboundKey = api?.createContextKey("catga.inbound");
    this.batchKey = api?.createContextKey("catga.batchSize");
  }

  private attributesFor(kind: ContractKind, type: string, routeIndex: 0 | 1 | 2): AttributeSet {
    let sets = this.attributeSets.get(type);
    if (sets === undefined) {
      sets = new Array<AttributeSet | undefined>(9).fill(undefined);
      this.attributeSets.set(type, sets);
    }
    const index = routeIndex * 3 + (kind === "command" ? 0 : kind === "query" ? 1 : 2);
    let set = sets[index];
    if (set === undefined) {
      const system = routeIndex === 0 ? "catga" : this.wireSystem;
      const operation = routeIndex === 2 ? { type: "process", name: "process" } : operationOf(kind);
      const base: OtelAttributes = { [Attr.type]: type, [Attr.kind]: kind, [Attr.system]: system };
      set = new AttributeSet(
        base,
        {
          [Attr.system]: system,
          [Attr.destination]: type,
          [Attr.operationType]: operation.type,
          [Attr.operationName]: operation.name,
          [Attr.type]: type,
          [Attr.kind]: kind,
        },
        `${operation.name} ${type}`,
        kind === "event" ? SPAN_KIND_PRODUCER : SPAN_KIND_CLIENT,
      );
      sets[index] = set;
    }
    return set;
  }

  /** The hook the mediator calls around every dispatch. */
  readonly hook: DispatchHook = {
    around: (context, wire, inbound, run, batchSize) => {
      const api = this.api!;
      const attributes = this.attributesFor(context.kind, context.type, inbound ? 2 : wire ? 1 : 0);
      const instruments = this.instruments;
      const started = instruments === undefined ? 0 : performance.now();
      if (instruments !== undefined) {
        instruments.requestsActive.add(1, attributes.base);
        if (inbound) instruments.received.add(1, attributes.base);
        else if (wire) instruments.sent.add(1, attributes.base);
      }
      let span: OtelSpan | undefined;
      let running: Promise<Result<unknown>>;
      if (inbound) {
        // No span of its own: the handler spans are children of the remote sender's span.
        const remote =
          (this.tracer === undefined ? undefined : extractTraceContext(api, context.headers)) ??
          api.ROOT_CONTEXT;
        if (this.ambient) {
          let marked = remote.setValue(this.inboundKey!, api.trace.getSpan(remote) ?? NO_SPAN);
          if (batchSize !== undefined) marked = marked.setValue(this.batchKey!, batchSize);
          running = api.context.with(marked, run);
        } else {
          this.parents.set(context.headers, { context: remote, inbound: true, batchSize });
          running = run();
        }
      } else if (this.tracer === undefined) {
        running = run();
      } else {
        const parent = this.parentFor(context);
        span = this.tracer.startSpan(attributes.spanName, attributes.spanOptions, parent);
        const spanContext = span.spanContext();
        if (api.isSpanContextValid(spanContext)) {
          const active = api.trace.setSpan(parent, span);
          const headers = injectTraceContext(spanContext, context.headers);
          // The hook's documented right: the message carries its trace context from here on.
          (context as { headers: Headers }).headers = headers;
          if (!this.ambient) this.parents.set(headers, { context: active, inbound: false });
          if (span.isRecording()) describeMessage(span, context);
          running = api.context.with(active, run);
        } else {
          // No trace to continue or record (no-op API): nothing to end or propagate.
          span = undefined;
          running = run();
        }
      }
      if (instruments === undefined && span === undefined) return running;
      return running.then((result) => {
        if (span !== undefined) endSpan(api, span, result);
        if (instruments !== undefined) {
          const outcome = attributes.outcome(result.ok ? "ok" : result.error.code);
          instruments.requestsActive.add(-1, attributes.base);
          instruments.requestsTotal.add(1, outcome);
          instruments.requestsDuration.record(seconds(started), outcome);
          if (!result.ok) instruments.requestsFailed.add(1, outcome);
        }
        return result;
      });
    },
  };

  /** The parent of a message's span: the handler that sent it, else the active span, else W3C headers. */
  private parentFor(context: HandlerContext & { readonly parent?: object | undefined }): OtelContext {
    const api = this.api!;
    if (!this.ambient && context.parent !== undefined) {
      const handler = this.handlerContexts.get(context.parent);
      if (handler !== undefined) return handler;
    }
    const active = api.context.active();
    if (api.trace.getSpan(active) === undefined) {
      const remote = extractTraceContext(api, context.headers);
      if (remote !== undefined) return remote;
    }
    return active;
  }

  /** Innermost behavior: one span and one measurement per handler execution. */
  readonly behavior: Behavior = markBuiltIn({
    name: "observability",
    priority: OBSERVABILITY_PRIORITY,
    create: (target: PipelineTarget) => {
      if (target.remote || (this.tracer === undefined && this.instruments === undefined)) return undefined;
      const type = target.contract.type;
      const sets = [false, true].map((inbound) => {
        const system = inbound ? undefined : "catga";
        const base: OtelAttributes = {
          [Attr.type]: type,
          [Attr.kind]: target.kind,
          [Attr.handler]: target.handlerName,
        };
        const span: OtelAttributes = {
          [Attr.destination]: type,
          [Attr.operationType]: "process",
          [Attr.operationName]: "process",
          [Attr.type]: type,
          [Attr.kind]: target.kind,
          [Attr.handler]: target.handlerName,
        };
        if (system !== undefined) {
          base[Attr.system] = system;
          span[Attr.system] = system;
        }
        return { base, span };
      });
      let local: AttributeSet | undefined;
      let wire: AttributeSet | undefined;
      const setFor = (inbound: boolean): AttributeSet => {
        if (inbound) {
          // The wire system is known once the transport is (at install time or later).
          wire ??= new AttributeSet(
            { ...sets[1]!.base, [Attr.system]: this.wireSystem },
            { ...sets[1]!.span, [Attr.system]: this.wireSystem },
            `process ${type}`,
            SPAN_KIND_CONSUMER,
          );
          return wire;
        }
        local ??= new AttributeSet(sets[0]!.base, sets[0]!.span, `process ${type}`, SPAN_KIND_CONSUMER);
        return local;
      };
      const tracer = this.tracer;
      const instruments = this.instruments;
      const api = this.api!;
      const ambient = this.ambient;
      const inboundKey = this.inboundKey!;
      const batchKey = this.batchKey!;
      return (payload: unknown, ctx: BehaviorContext, next) => {
        const started = instruments === undefined ? 0 : performance.now();
        let parent: OtelContext;
        let inbound: boolean;
        let entry: ParentEntry | undefined;
        if (ambient) {
          // The active context says it all: the send span, or the remote parent marked inbound.
          parent = api.context.active();
          const mark = parent.getValue(inboundKey);
          inbound = mark !== undefined && mark === (api.trace.getSpan(parent) ?? NO_SPAN);
        } else {
          entry = this.parents.get(ctx.headers);
          parent = entry?.context ?? api.context.active();
          inbound = entry?.inbound === true;
        }
        const attributes = setFor(inbound);
        let span: OtelSpan | undefined;
        let running: Promise<Result<unknown>>;
        if (tracer === undefined) {
          // Messages this handler sends are not inbound themselves: drop the mark for them.
          running =
            inbound && ambient
              ? api.context.with(parent.deleteValue(inboundKey), next, undefined, payload, ctx)
              : next(payload, ctx);
        } else {
          span = tracer.startSpan(attributes.spanName, attributes.spanOptions, parent);
          if (api.isSpanContextValid(span.spanContext())) {
            const active = api.trace.setSpan(parent, span);
            if (!ambient) this.handlerContexts.set(ctx, active);
            if (span.isRecording()) {
              describeMessage(span, ctx);
              // The transport batch this message came in. The span covers one message, so not
              // messaging.batch.message_count (OTel: SHOULD NOT be set on single-message spans).
              if (inbound) {
                const batch = ambient ? parent.getValue(batchKey) : entry?.batchSize;
                if (batch !== undefined) span.setAttribute(Attr.batchSize, batch as number);
              }
            }
            running = api.context.with(active, next, undefined, payload, ctx);
          } else {
            span = undefined;
            running = next(payload, ctx);
          }
        }
        if (span === undefined && instruments === undefined) return running;
        return running.then((result) => {
          if (span !== undefined) endSpan(api, span, result);
          if (instruments !== undefined) {
            const outcome = attributes.outcome(result.ok ? "ok" : result.error.code);
            instruments.handlerExecutions.add(1, outcome);
            instruments.handlerDuration.record(seconds(started), outcome);
          }
          return result;
        });
      };
    },
  });
}
