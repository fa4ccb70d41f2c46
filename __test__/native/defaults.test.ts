import { readFileSync } from "node:fs";
import { connect, type StreamConfig } from "nats";
import { describe, expect, it } from "vitest";
import { JetStream } from "../../ts/entries/jetstream.js";
import { NatsConnection, natsTransport } from "../../ts/entries/nats.js";
import { CONSUMER_DEFAULTS, STREAM_DEFAULTS } from "../../ts/jetstream/options.js";
import { loadNativeBinding } from "../../ts/native/loader.js";
import { NATS_DEFAULTS } from "../../ts/nats/options.js";
import { durableCommandStreams } from "../../ts/transport/durable-commands.js";
import { durableEventStreams } from "../../ts/transport/durable-events.js";
import { NATS_URL, uniquePrefix } from "../nats/helpers.js";

/** A stream's settings as the server reports them, under the {@link STREAM_DEFAULTS} names. */
async function serverSettings(streams: readonly string[]) {
  const admin = await connect({ servers: NATS_URL });
  try {
    const jsm = await admin.jetstreamManager();
    const settings = (config: StreamConfig) => ({
      retention: config.retention,
      maxAgeMs: config.max_age / 1e6,
      maxMessages: config.max_msgs,
      maxBytes: config.max_bytes,
      replicas: config.num_replicas,
      duplicateWindowMs: config.duplicate_window / 1e6,
      storage: config.storage,
    });
    return await Promise.all(
      streams.map(async (name) => {
        const { config } = await jsm.streams.info(name);
        return { name: config.name, subjects: config.subjects, ...settings(config) };
      }),
    );
  } finally {
    await admin.close();
  }
}

describe("option defaults", () => {
  it("NATS connections: the TS table states what the engine applies to every field left out", () => {
    const engine = loadNativeBinding().natsDefaults();
    const { batch: _appliedInJs, compressionThreshold, compressionLevel, limits, ...rest } = NATS_DEFAULTS;
    const { frame, servers: _servers, ...engineRest } = engine;
    expect(engineRest).toEqual(rest);
    expect(frame).toEqual({ compressionThreshold, compressionLevel, limits });
  });

  it("durable consumers: the TS table states what the engine applies to every field left out", () => {
    const { backoffMs: _appliedInJs, ...engineApplied } = CONSUMER_DEFAULTS;
    const { stream: _stream, durable: _durable, ...engine } = loadNativeBinding().consumerDefaults();
    expect(engine).toEqual(engineApplied);
  });

  it("streams: the TS table states what the engine applies to every field left out", () => {
    const { name, subjects, ...engine } = loadNativeBinding().streamDefaults();
    expect({ name, subjects }).toEqual({ name: "", subjects: [] });
    expect(engine).toEqual(STREAM_DEFAULTS);
  });

  it("streams: every optional field's @default in StreamOptions is the table's value", () => {
    const source = readFileSync(new URL("../../ts/jetstream/options.ts", import.meta.url), "utf8");
    const body = /export interface StreamOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
    const documented = Object.fromEntries(
      [...body.matchAll(/@default (\S+)[\s\S]*?\*\/\s*(\w+)\?:/g)].map(([, value, field]) => [
        field,
        JSON.parse(value!),
      ]),
    );
    expect(documented).toEqual(STREAM_DEFAULTS);
  });
});

describe("option defaults on the server", () => {
  it("streams: one created with only a name and subjects has every setting of the table", async () => {
    const prefix = uniquePrefix("defaults").replaceAll(".", "_");
    const [plain, aged] = [`S_${prefix}`, `S_${prefix}_AGED`];
    const connection = await NatsConnection.connect({ servers: NATS_URL });
    const js = new JetStream(connection);
    try {
      await js.ensureStream({ name: plain, subjects: [`${prefix}.plain.>`] });
      // The one default that depends on another field: the window never outlasts the age limit.
      await js.ensureStream({ name: aged, subjects: [`${prefix}.aged.>`], maxAgeMs: 30_000 });
      const [plainSettings, agedSettings] = await serverSettings([plain, aged]);
      expect(plainSettings).toEqual({ name: plain, subjects: [`${prefix}.plain.>`], ...STREAM_DEFAULTS });
      expect(agedSettings).toMatchObject({ maxAgeMs: 30_000, duplicateWindowMs: 30_000 });
    } finally {
      await Promise.all([js.deleteStream(plain), js.deleteStream(aged)]);
      await connection.close();
    }
  });

  it("durable events: both streams are named from the prefix and have the stream defaults", async () => {
    expect(durableEventStreams("my-app.v2", {})).toEqual({
      events: { name: "MY-APP_V2_EVENTS", subjects: ["my-app.v2.evt.>"] },
      deadLetters: { name: "MY-APP_V2_EVENTS_DLQ", subjects: ["my-app.v2.dlq.>"] },
    });
    const prefix = uniquePrefix("defaults");
    const { events, deadLetters } = durableEventStreams(prefix, {});
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "defaults",
      prefix,
      durableEvents: {},
    });
    try {
      expect(await serverSettings([events.name, deadLetters.name])).toEqual([
        { ...events, ...STREAM_DEFAULTS },
        { ...deadLetters, ...STREAM_DEFAULTS },
      ]);
    } finally {
      const js = new JetStream(transport.connection);
      await Promise.all([js.deleteStream(events.name), js.deleteStream(deadLetters.name)]);
      await transport.close();
    }
  });

  it("provisioned streams: dead letters and Results share the stream's storage and replicas, not its limits", async () => {
    // In a cluster, dead letters on one replica would be lost with one server while the stream
    // itself survives; storage is shared for the same reason. Limits are not: dead letters are kept.
    expect(
      durableEventStreams("p", { provision: { replicas: 3, storage: "memory", maxAgeMs: 60_000 } }),
    ).toEqual({
      events: { name: "P_EVENTS", subjects: ["p.evt.>"], replicas: 3, storage: "memory", maxAgeMs: 60_000 },
      deadLetters: { name: "P_EVENTS_DLQ", subjects: ["p.dlq.>"], replicas: 3, storage: "memory" },
    });
    const prefix = uniquePrefix("defaults");
    const provision = { storage: "memory", maxMessages: 1000 } as const;
    const events = durableEventStreams(prefix, { provision });
    const commands = durableCommandStreams(prefix, { provision });
    const transport = await natsTransport({
      servers: NATS_URL,
      service: "defaults",
      prefix,
      durableEvents: { provision },
      durableCommands: { provision },
    });
    const names = [
      events.events.name,
      events.deadLetters.name,
      commands.commands.name,
      commands.deadLetters.name,
      commands.results.name,
    ];
    try {
      const [eventStream, eventDlq, commandStream, commandDlq, results] = await serverSettings(names);
      for (const stream of [eventStream, eventDlq, commandStream, commandDlq, results])
        expect(stream).toMatchObject({ storage: "memory", replicas: 1 });
      expect([eventStream!.maxMessages, commandStream!.maxMessages]).toEqual([1000, 1000]);
      expect([eventDlq!.maxMessages, commandDlq!.maxMessages, results!.maxMessages]).toEqual([-1, -1, -1]);
    } finally {
      const js = new JetStream(transport.connection);
      await Promise.all(names.map((name) => js.deleteStream(name)));
      await transport.close();
    }
  });
});
