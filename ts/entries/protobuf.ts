/**
 * `@catga/native/protobuf`: Protobuf payloads with `@bufbuild/protobuf` v2 (an optional peer):
 * a contract declares its message (`protobufSchema`), the transport carries it as protobuf bytes
 * (`protobufCodecs`, or `protobufCodec` per type), named `protobuf:<message>` on the wire
 * (docs/architecture/wire.md, docs/architecture/transport.md "Protobuf payloads").
 *
 * @module @catga/native/protobuf
 */
export {
  PROTOBUF_CODEC_PREFIX,
  type ProtobufSchema,
  protobufCodec,
  protobufCodecs,
  protobufSchema,
} from "../nats/protobuf.js";
export type { ProtobufIssue } from "../nats/protobuf-check.js";
