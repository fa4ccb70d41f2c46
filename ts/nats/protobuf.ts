import {
  create,
  type DescMessage,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { CatgaError, describeThrown, ErrorCodes, type ValidationIssue } from "../errors.js";
import type { AnyContract } from "../mediator/contracts.js";
import { protobufIssues } from "./protobuf-check.js";
import type { PayloadCodec } from "./wire.js";

/**
 * Protobuf payloads (`@bufbuild/protobuf` v2, an optional peer dependency): one codec per message
 * schema, chosen per contract like the JSON and MessagePack codecs. The envelope names the codec
 * `protobuf:<full message name>` (docs/architecture/wire.md), so a receiver, in any language, knows which
 * message the bytes hold.
 */

/** The envelope's codec name for payloads of one protobuf message: `protobuf:` and its full name. */
export const PROTOBUF_CODEC_PREFIX = "protobuf:";

const codecs = new WeakMap<DescMessage, PayloadCodec>();
const schemas = new WeakMap<DescMessage, ProtobufSchema<DescMessage>>();
/** Every schema made by {@link protobufSchema}, so {@link protobufCodecs} can tell them from others. */
const madeSchemas = new WeakSet<object>();

/** Issues with dotted paths (`lines.0.quantity`), as `CATGA_VALIDATION` lists them. */
function dotted(issues: ReturnType<typeof protobufIssues>): ValidationIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

function summary(issues: readonly ValidationIssue[]): string {
  const shown = issues
    .slice(0, 5)
    .map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
  return issues.length > 5 ? `${shown.join("; ")}; and ${issues.length - 5} more` : shown.join("; ");
}

/** `value` as a message of `desc`: itself when it already is one, else built from it as an init. */
function asMessage<Desc extends DescMessage>(desc: Desc, value: unknown): MessageShape<Desc> {
  return isMessage(value, desc) ? value : create(desc, value as MessageInitShape<Desc>);
}

/**
 * The payload codec for messages of `schema` (a generated `…Schema` from `protoc-gen-es`, or a
 * descriptor from a registry). `encode` takes the message or its init shape (plain fields) and
 * fails with CATGA_ENCODE naming the field when a value does not fit it (the library's own
 * coercions would otherwise send a different message); `decode` fails with CATGA_DECODE on bytes
 * that are not a valid encoding. The same schema always gives the same codec object.
 */
export function protobufCodec<Desc extends DescMessage>(schema: Desc): PayloadCodec {
  const known = codecs.get(schema);
  if (known !== undefined) return known;
  if (typeof schema !== "object" || schema === null || schema.kind !== "message")
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      "protobufCodec: schema must be a protobuf message descriptor",
      {
        details: { field: "schema" },
      },
    );
  const name = `${PROTOBUF_CODEC_PREFIX}${schema.typeName}`;
  const codec: PayloadCodec = {
    name,
    encode(value) {
      const issues = protobufIssues(schema, value);
      if (issues.length > 0) {
        const listed = dotted(issues);
        throw new CatgaError(
          ErrorCodes.ENCODE,
          `the payload is not a ${schema.typeName}: ${summary(listed)}`,
          {
            details: { codec: name, issues: listed },
          },
        );
      }
      try {
        return toBinary(schema, asMessage(schema, value));
      } catch (error) {
        throw new CatgaError(
          ErrorCodes.ENCODE,
          `the payload is not a ${schema.typeName}: ${describeThrown(error)}`,
          {
            details: { codec: name },
            cause: error,
          },
        );
      }
    },
    decode(bytes) {
      try {
        // A copy: `bytes` fields of the decoded message are views into what it reads, and `bytes`
        // here is a view into the whole inbound batch, which a kept field would pin.
        return fromBinary(schema, new Uint8Array(bytes));
      } catch (error) {
        throw new CatgaError(
          ErrorCodes.DECODE,
          `the ${name} payload does not decode: ${describeThrown(error)}`,
          {
            details: { codec: name },
            cause: error,
          },
        );
      }
    },
  };
  codecs.set(schema, codec);
  return codec;
}

/**
 * A contract schema (Standard Schema) backed by a protobuf message: callers pass the message or
 * its init shape, handlers receive the message (defaults filled in, as decoded off the wire), and
 * a payload whose fields do not fit fails with CATGA_VALIDATION naming them. Its {@link codec}
 * carries the payload between processes; {@link protobufCodecs} collects it from contracts.
 */
export interface ProtobufSchema<Desc extends DescMessage>
  extends StandardSchemaV1<MessageInitShape<Desc>, MessageShape<Desc>> {
  /** The message descriptor (the generated `…Schema`). */
  readonly desc: Desc;
  /** The payload codec of this message, the same object as {@link protobufCodec}(desc). */
  readonly codec: PayloadCodec;
}

/**
 * Declares a contract's payload as a protobuf message:
 * `defineEvent("orders.placed", protobufSchema(OrderPlacedSchema))`. Pair it with
 * `natsTransport({ codecs: protobufCodecs([OrderPlaced]) })` so the payload travels as protobuf.
 */
export function protobufSchema<Desc extends DescMessage>(desc: Desc): ProtobufSchema<Desc> {
  const known = schemas.get(desc);
  if (known !== undefined) return known as unknown as ProtobufSchema<Desc>; // made for this same desc
  const codec = protobufCodec(desc);
  const schema: ProtobufSchema<Desc> = {
    desc,
    codec,
    "~standard": {
      version: 1,
      vendor: "catga-protobuf",
      validate(value) {
        const issues = protobufIssues(desc, value);
        if (issues.length > 0) return { issues };
        return { value: asMessage(desc, value) };
      },
    },
  };
  madeSchemas.add(schema);
  schemas.set(desc, schema as unknown as ProtobufSchema<DescMessage>); // variance only: same desc
  return schema;
}

/**
 * The `natsTransport({ codecs })` entries of contracts declared with {@link protobufSchema}: each
 * contract's type to its message's codec. A contract with another schema (or none) is refused with
 * CATGA_INVALID_ARGUMENT naming it, since its payload would silently stay MessagePack.
 */
export function protobufCodecs(contracts: readonly AnyContract[]): Record<string, PayloadCodec> {
  if (!Array.isArray(contracts))
    throw new CatgaError(
      ErrorCodes.INVALID_ARGUMENT,
      "protobufCodecs: contracts must be an array of contracts declared with protobufSchema(...)",
      { details: { field: "contracts" } },
    );
  const out: Record<string, PayloadCodec> = {};
  contracts.forEach((contract, index) => {
    const schema = contract?.schema;
    if (schema === undefined || !madeSchemas.has(schema))
      throw new CatgaError(
        ErrorCodes.INVALID_ARGUMENT,
        `protobufCodecs: contract ${JSON.stringify(contract?.type)} was not declared with protobufSchema(...)`,
        { details: { field: `contracts[${index}]` } },
      );
    out[contract.type] = (schema as ProtobufSchema<DescMessage>).codec;
  });
  return out;
}
