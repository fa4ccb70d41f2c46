import type { StandardSchemaV1 } from "@standard-schema/spec";
import { CatgaError, ErrorCodes } from "../errors.js";

export type { StandardSchemaV1 };

/** What a message asks for: change state (command), read state (query) or announce a fact (event). */
export type ContractKind = "command" | "query" | "event";

// Phantom keys: they exist only in types, so two contracts with different payloads or results are
// different types even though they are the same kind of object at run time.
declare const inputType: unique symbol;
declare const payloadType: unique symbol;
declare const resultType: unique symbol;

/**
 * A typed token that names a message type once; every `send`, `query`, `publish` and handler is
 * typed by it. `I` is what callers pass, `P` what handlers receive (they differ when the schema
 * transforms, e.g. zod defaults), `R` what a command or query handler returns.
 */
export interface Contract<
  K extends ContractKind = ContractKind,
  T extends string = string,
  I = unknown,
  P = I,
  R = unknown,
> {
  readonly kind: K;
  readonly type: T;
  /** Standard Schema (zod, valibot, arktype, ...) checked by the validation behavior. */
  readonly schema: StandardSchemaV1<I, P> | undefined;
  // Phantom members: types only. Wrapped in a function type so `infer` gets the declared type
  // back whole: from a bare optional `R`, `.returns<T | undefined>()` inferred as `T`.
  /** @internal Phantom (types only): what callers pass, read by {@link InputOf}. */
  readonly [inputType]?: () => I;
  /** @internal Phantom (types only): what handlers receive, read by {@link PayloadOf}. */
  readonly [payloadType]?: () => P;
  /** @internal Phantom (types only): what the handler returns, read by {@link ResultOf}. */
  readonly [resultType]?: () => R;
}

/**
 * How a command travels between processes: `"request"` by request/reply (at most once; the
 * default), `"durable"` stored on JetStream until its handler succeeds (docs/architecture/durable-commands.md).
 */
export type CommandDelivery = "request" | "durable";

/**
 * A command contract. `Delivery` is {@link CommandDelivery}: it decides what `send` may wait for
 * and so what it resolves with (a durable command's `send` resolves with {@link Accepted} unless
 * it asks for `await: "result"`).
 */
export interface CommandContract<
  T extends string = string,
  I = unknown,
  P = I,
  R = unknown,
  Delivery extends CommandDelivery = "request",
> extends Contract<"command", T, I, P, R> {
  /** `"durable"` after `.durable()`; callers and handlers must agree (they share the contract). */
  readonly delivery: Delivery;
  /** Declares the handler's result type; no run-time effect. */
  returns<R2>(): CommandContract<T, I, P, R2, Delivery>;
  /**
   * A durable copy of this contract: sent commands are stored on JetStream, handled once each by
   * one instance of the handling service, retried until the handler succeeds and dead-lettered
   * after the consumer's `maxDeliver`. Declare it on the shared contract, so that callers and the
   * handler agree (docs/architecture/durable-commands.md).
   */
  durable(): CommandContract<T, I, P, R, "durable">;
}

/** A command declared `.durable()`. */
export type DurableCommandContract<
  T extends string = string,
  I = unknown,
  P = I,
  R = unknown,
> = CommandContract<T, I, P, R, "durable">;

/** What a durable `send` resolves with when it waits only until JetStream stored the command. */
export interface Accepted {
  /** The command's id, also its dedupe key on JetStream (`Nats-Msg-Id`). */
  readonly messageId: string;
  /**
   * True when JetStream already held a command with this `messageId` (sent again within the
   * stream's duplicate window): it was not stored twice and will not be handled twice.
   */
  readonly duplicate: boolean;
}

/** A query contract: asks one handler for data and changes nothing; `R` is what it answers. */
export interface QueryContract<T extends string = string, I = unknown, P = I, R = unknown>
  extends Contract<"query", T, I, P, R> {
  /** Declares the handler's result type; no run-time effect. */
  returns<R2>(): QueryContract<T, I, P, R2>;
}

/** An event contract: a fact announced to any number of handlers, which return nothing. */
export interface EventContract<T extends string = string, I = unknown, P = I>
  extends Contract<"event", T, I, P, void> {}

/** A command declared without a schema; `payload<P>()` declares its payload type. */
export interface UntypedCommand<T extends string> extends CommandContract<T, unknown, unknown, void> {
  /** Declares the payload type (not checked at run time: there is no schema); no run-time effect. */
  payload<P>(): CommandContract<T, P, P, void>;
}
/** A query declared without a schema; `payload<P>()` declares its payload type. */
export interface UntypedQuery<T extends string> extends QueryContract<T, unknown, unknown, unknown> {
  /** Declares the payload type (not checked at run time: there is no schema); no run-time effect. */
  payload<P>(): QueryContract<T, P, P, unknown>;
}
/** An event declared without a schema; `payload<P>()` declares its payload type. */
export interface UntypedEvent<T extends string> extends EventContract<T, unknown, unknown> {
  /** Declares the payload type (not checked at run time: there is no schema); no run-time effect. */
  payload<P>(): EventContract<T, P, P>;
}

/** Any contract, whatever its kind and types: the bound for code generic over contracts. */
export type AnyContract = Contract<ContractKind, string, unknown, unknown, unknown>;
/** Any command contract, request or durable. */
export type AnyCommand = CommandContract<string, unknown, unknown, unknown, CommandDelivery>;
/** A command sent by request/reply (not `.durable()`). */
export type RequestCommand = CommandContract<string, unknown, unknown, unknown, "request">;
/** A command declared `.durable()`. */
export type DurableCommand = CommandContract<string, unknown, unknown, unknown, "durable">;
/** Any query contract. */
export type AnyQuery = QueryContract<string, unknown, unknown, unknown>;
/** Any event contract. */
export type AnyEvent = EventContract<string, unknown, unknown>;

/** What a caller passes to `send`/`query`/`publish`. */
export type InputOf<C> = C extends Contract<ContractKind, string, infer I, unknown, unknown> ? I : never;
/** What the handler receives (after validation). */
export type PayloadOf<C> = C extends Contract<ContractKind, string, unknown, infer P, unknown> ? P : never;
/** What a command or query handler returns. */
export type ResultOf<C> = C extends Contract<ContractKind, string, unknown, unknown, infer R> ? R : never;
/** The contract's message type name, as a string literal type (e.g. `"orders.place"`). */
export type TypeOf<C> = C extends Contract<ContractKind, infer T, unknown, unknown, unknown> ? T : never;

/** Run-time shape of every contract; type-level methods just return the same object. */
class ContractToken {
  readonly kind: ContractKind;
  readonly type: string;
  readonly schema: StandardSchemaV1 | undefined;
  /** Commands only; undefined for queries and events. */
  readonly delivery: CommandDelivery | undefined;

  constructor(
    kind: ContractKind,
    type: string,
    schema: StandardSchemaV1 | undefined,
    delivery: CommandDelivery | undefined,
  ) {
    this.kind = kind;
    this.type = type;
    this.schema = schema;
    this.delivery = delivery;
    Object.freeze(this);
  }

  /** A new token (contracts are frozen): the durable copy of a command. */
  durable(): ContractToken {
    if (this.kind !== "command")
      throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `only commands can be durable, not ${this.kind}s`, {
        details: { field: "delivery", kind: this.kind, type: this.type },
      });
    return new ContractToken(this.kind, this.type, this.schema, "durable");
  }

  returns(): this {
    return this;
  }

  payload(): this {
    return this;
  }

  toString(): string {
    return `${this.kind}:${this.type}`;
  }
}

/** The longest contract name: it becomes part of NATS subjects, stream and consumer names. */
export const MAX_CONTRACT_NAME_LENGTH = 200;

const NAME_TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Why `type` is not a valid contract name, or undefined when it is. The grammar (docs/architecture/mediator.md,
 * "Contract names"): dot-separated tokens of ASCII letters, digits, `_` and `-`, at most
 * {@link MAX_CONTRACT_NAME_LENGTH} characters. Names become NATS subjects: a space, an empty
 * token or a wildcard (`*`, `>`) would make an invalid subject or one that catches other types.
 */
export function contractNameProblem(type: unknown): string | undefined {
  if (typeof type !== "string") return `must be a string, got ${type === null ? "null" : typeof type}`;
  if (type.length === 0) return "must not be empty";
  if (type.length > MAX_CONTRACT_NAME_LENGTH)
    return `must be at most ${MAX_CONTRACT_NAME_LENGTH} characters, got ${type.length}`;
  for (const token of type.split(".")) {
    if (token.length === 0) return "must not start or end with a dot or have two dots in a row";
    if (!NAME_TOKEN.test(token))
      return "may hold only ASCII letters, digits, '_' and '-' between dots (no spaces or wildcards)";
  }
  return undefined;
}

function create(kind: ContractKind, type: string, schema: StandardSchemaV1 | undefined): ContractToken {
  const define = `define${kind[0]!.toUpperCase()}${kind.slice(1)}`;
  const problem = contractNameProblem(type);
  if (problem !== undefined) {
    const shown = typeof type === "string" ? ` ${JSON.stringify(type.slice(0, 100))}` : "";
    throw new CatgaError(ErrorCodes.INVALID_ARGUMENT, `${define}: type${shown} ${problem}`, {
      details: { field: "type", kind, problem },
    });
  }
  // arktype's schemas are functions carrying `~standard`: any object or function with it will do.
  if (
    schema !== undefined &&
    ((typeof schema !== "object" && typeof schema !== "function") ||
      schema === null ||
      !("~standard" in schema))
  ) {
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      `${define}: the schema of ${kind} "${type}" must implement Standard Schema (zod, valibot, arktype, ...)`,
      { details: { field: "schema", kind, type } },
    );
  }
  return new ContractToken(kind, type, schema, kind === "command" ? "request" : undefined);
}

/** Declares a command. Chain `.returns<R>()` for its result type; without a schema use `.payload<P>()`. */
export function defineCommand<const T extends string, S extends StandardSchemaV1>(
  type: T,
  schema: S,
): CommandContract<T, StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, void>;
export function defineCommand<const T extends string>(type: T): UntypedCommand<T>;
export function defineCommand(type: string, schema?: StandardSchemaV1): unknown {
  return create("command", type, schema);
}

/** Declares a query. Chain `.returns<R>()` for its result type; without a schema use `.payload<P>()`. */
export function defineQuery<const T extends string, S extends StandardSchemaV1>(
  type: T,
  schema: S,
): QueryContract<T, StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, unknown>;
export function defineQuery<const T extends string>(type: T): UntypedQuery<T>;
export function defineQuery(type: string, schema?: StandardSchemaV1): unknown {
  return create("query", type, schema);
}

/** Declares an event; any number of handlers (including none) may subscribe. */
export function defineEvent<const T extends string, S extends StandardSchemaV1>(
  type: T,
  schema: S,
): EventContract<T, StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>>;
export function defineEvent<const T extends string>(type: T): UntypedEvent<T>;
export function defineEvent(type: string, schema?: StandardSchemaV1): unknown {
  return create("event", type, schema);
}
