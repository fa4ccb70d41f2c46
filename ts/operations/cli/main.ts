/**
 * `npx catga …`: the operations API from a shell (docs/guides/operations.md). `run` takes the arguments
 * and the output streams and resolves with the exit code, so tests call it like a process would.
 */
import { parseArgs } from "node:util";
import { CatgaConfigError, CatgaError, ErrorCodes } from "../../errors.js";
import { StreamMessages } from "../../jetstream/stream-messages.js";
import { NatsConnection } from "../../nats/connection.js";
import { NatsKvSagaStore } from "../../persistence/nats-kv-saga-store.js";
import type { PgQueryable } from "../../persistence/pg.js";
import type { SagaStatus } from "../../saga/instance.js";
import { clusterMembers } from "../cluster-members.js";
import type { DeadLetter, DeadLetterKind } from "../dead-letter.js";
import {
  type DeadLetterFilter,
  type DeadLetterSelector,
  type DeadLetters,
  deadLetters,
} from "../dead-letters.js";
import { inboxStatus } from "../inbox.js";
import { outboxBacklog } from "../outbox.js";
import { listSagaInstances, type SagaStoreLocation, sagaCounts } from "../sagas.js";
import { fields, table, time, toJson } from "./table.js";

/** Exit codes scripts can rely on (docs/guides/operations.md, "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** The command ran and something failed (a replay that did not go out, a store error). */
  failed: 1,
  /** Unknown command or option, or a bad value: nothing was done. */
  usage: 2,
  /** NATS or PostgreSQL could not be reached. */
  unreachable: 3,
  /** The dead letter named does not exist. */
  notFound: 4,
} as const;

/** Where the CLI writes. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether `err` is a terminal (progress redraws one line) or a log (a line per update). */
  readonly errIsTty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const CONNECTION_HELP = `Connection options (or environment variables):
  --nats <url>              NATS server (CATGA_NATS_URL; default nats://127.0.0.1:4222)
  --prefix <prefix>         subject prefix of the transport (CATGA_PREFIX; default catga)
  --events-stream <name>    durableEvents.stream (default <PREFIX>_EVENTS)
  --commands-stream <name>  durableCommands.stream (default <PREFIX>_COMMANDS)
  --pg <url>                PostgreSQL connection string (CATGA_PG_URL, then DATABASE_URL)
  --schema <schema>         schema given to migrate() (default: the search_path)
  --json                    machine-readable output on stdout
  -h, --help                this help`;

const FILTER_HELP = `Filters (all given must match):
  --kind event|command  --type <type>  --code <CATGA_…>  --consumer <service-type>
  --message-id <id>  --since <ISO time>  --until <ISO time>`;

const HELP: Record<string, string> = {
  main: `Usage: catga <command> [options]

Commands:
  dlq list       list dead letters (durable events and commands)
  dlq inspect    show one dead letter: payload, headers, trace id, error
  dlq replay     send dead letters back to their handlers (same messageId and trace)
  dlq purge      remove dead letters for good
  dlq counts     dead letters per kind and type
  outbox         the outbox backlog (PostgreSQL)
  inbox          the inbox: outcomes, claims, expired rows (PostgreSQL)
  sagas list     saga instances (PostgreSQL, or NATS KV with --kv-bucket)
  cluster members  the instances of every service, from their heartbeats

Run "catga <command> --help" for a command's options.
Exit codes: 0 ok, 1 failed, 2 bad usage, 3 NATS/PostgreSQL unreachable, 4 not found.

${CONNECTION_HELP}`,
  "dlq list": `Usage: catga dlq list [filters] [--limit n] [--after id]

Lists dead letters in stream order (events, then commands).
  --limit <n>   at most n (1–1000, default 50)
  --after <id>  start after this id (the "next" of the previous page)

${FILTER_HELP}

${CONNECTION_HELP}`,
  "dlq inspect": `Usage: catga dlq inspect <id>

Shows one dead letter (id as listed, e.g. event:12): payload, envelope and dead-letter headers,
trace id, error code and message, deliveries, creation and dead-letter times. Exit 4 when absent.

${CONNECTION_HELP}`,
  "dlq replay": `Usage: catga dlq replay <id...> | --all | [filters]

Sends dead letters back to their original subject with their original messageId and trace
headers, and removes them from the dead letters. An event goes back to the consumer that failed
it only. Progress goes to stderr. Exit 1 when any could not be sent back (they stay).
  --all   every dead letter

${FILTER_HELP}

${CONNECTION_HELP}`,
  "dlq purge": `Usage: catga dlq purge <id...> | --all | [filters]

Removes dead letters for good.
  --all   every dead letter

${FILTER_HELP}

${CONNECTION_HELP}`,
  "dlq counts": `Usage: catga dlq counts

Dead letters per kind and message type.

${CONNECTION_HELP}`,
  outbox: `Usage: catga outbox [--limit n]

The outbox backlog: pending rows, failing rows, the oldest pending row's age, and the oldest
pending rows with their last error.
  --limit <n>   rows to show (0–1000, default 20)

${CONNECTION_HELP}`,
  inbox: `Usage: catga inbox [--limit n] [--key-prefix p] [--table t]

The PostgreSQL inbox: recorded outcomes, claims in progress, expired rows, and the latest rows.
  --limit <n>         rows to show (0–1000, default 20)
  --key-prefix <p>    only keys starting with p (e.g. once:payments.capture:)
  --table <t>         table name (default catga_inbox)

${CONNECTION_HELP}`,
  "cluster members": `Usage: catga cluster members [--service name] [--wait ms]

Listens to the cluster heartbeats on the prefix (without joining) and lists every instance heard:
service, instance id, version, weight, load, heartbeat interval, start time, sharded types.
  --service <name>  only this service's instances
  --wait <ms>       how long to listen (1–600000, default 2500): at least the longest
                    heartbeatMs in use, or instances are missed

${CONNECTION_HELP}`,
  "sagas list": `Usage: catga sagas list [--saga name [--status s] [--limit n] [--after id]]

Without --saga: instance counts per saga and status. With --saga: that saga's instances.
  --saga <name>     the saga (defineSaga name)
  --status <s>      running|waiting|compensating|completed|compensated|failed|aborted
  --limit <n>       at most n (1–1000, default 100)
  --after <id>      ids after this one
  --table <t>       table name (default catga_saga)
  --kv-bucket <b>   read a NatsKvSagaStore's bucket on NATS (--nats) instead of PostgreSQL
                    (exit 4 when there is no such bucket; none is created)

${CONNECTION_HELP}`,
};

const OPTIONS = {
  nats: { type: "string" },
  prefix: { type: "string" },
  "events-stream": { type: "string" },
  "commands-stream": { type: "string" },
  pg: { type: "string" },
  schema: { type: "string" },
  table: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  all: { type: "boolean" },
  limit: { type: "string" },
  after: { type: "string" },
  kind: { type: "string" },
  type: { type: "string" },
  code: { type: "string" },
  consumer: { type: "string" },
  "message-id": { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  "key-prefix": { type: "string" },
  saga: { type: "string" },
  status: { type: "string" },
  service: { type: "string" },
  wait: { type: "string" },
  "kv-bucket": { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

/** Options each command takes besides the connection ones. */
const COMMAND_OPTIONS: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  "dlq list": ["limit", "after", "kind", "type", "code", "consumer", "message-id", "since", "until"],
  "dlq inspect": [],
  "dlq replay": ["all", "kind", "type", "code", "consumer", "message-id", "since", "until"],
  "dlq purge": ["all", "kind", "type", "code", "consumer", "message-id", "since", "until"],
  "dlq counts": [],
  outbox: ["limit"],
  inbox: ["limit", "key-prefix", "table"],
  "sagas list": ["saga", "status", "limit", "after", "table", "kv-bucket"],
  "cluster members": ["service", "wait"],
};
const CONNECTION_OPTIONS = [
  "nats",
  "prefix",
  "events-stream",
  "commands-stream",
  "pg",
  "schema",
  "json",
  "help",
];

/** A usage mistake: printed with the command's help pointer, exit 2. */
class UsageError extends Error {}

/** Runs one CLI invocation; resolves with the exit code. Never rejects. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as never;
  } catch (error) {
    io.err(`catga: ${(error as Error).message}\nRun "catga --help" for usage.\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [first, second, ...rest] = positionals;
  const grouped = first === "dlq" || first === "sagas" || first === "cluster";
  const command = grouped ? `${first} ${second ?? ""}`.trim() : (first ?? "");
  const args = grouped ? rest : positionals.slice(1);
  if (command === "" || command === "help") {
    io.out(`${HELP.main}\n`);
    return command === "" && !values.help ? EXIT.usage : EXIT.ok;
  }
  const help = HELP[command];
  if (help === undefined) {
    io.err(`catga: unknown command "${positionals.slice(0, 2).join(" ")}"\nRun "catga --help" for usage.\n`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(`${help}\n`);
    return EXIT.ok;
  }
  try {
    const allowed = new Set([...CONNECTION_OPTIONS, ...COMMAND_OPTIONS[command]!]);
    for (const key of Object.keys(values))
      if (!allowed.has(key)) throw new UsageError(`option --${key} does not apply to "catga ${command}"`);
    return await dispatch(command, args, values, io);
  } catch (error) {
    return report(error, command, io);
  }
}

async function dispatch(command: string, args: string[], values: Values, io: CliIo): Promise<number> {
  const print = (json: unknown, text: () => string) => io.out(`${values.json ? toJson(json) : text()}\n`);
  if (command.startsWith("dlq ")) {
    if (command !== "dlq inspect" && command !== "dlq replay" && command !== "dlq purge" && args.length > 0)
      throw new UsageError(`"catga ${command}" takes no arguments, got ${args.join(" ")}`);
    const dlq = await openDeadLetters(values, io);
    try {
      return await dlqCommand(command, args, values, dlq, io, print);
    } finally {
      await dlq.close();
    }
  }
  if (args.length > 0) throw new UsageError(`"catga ${command}" takes no arguments, got ${args.join(" ")}`);
  if (command === "cluster members") return members(values, io, print);
  const bucket = values["kv-bucket"];
  if (command === "sagas list" && bucket !== undefined) {
    if (values.table !== undefined)
      throw new UsageError("--table is for PostgreSQL; --kv-bucket reads NATS KV");
    const connection = await openNats(values, io);
    try {
      const store = new NatsKvSagaStore({ connection, bucket });
      // Opening a store creates its bucket when missing: a mistyped name must not leave one behind.
      if ((await new StreamMessages(connection).state(`KV_${bucket}`)) === undefined) {
        io.err(
          `catga sagas list: no NATS KV bucket named ${bucket} (no stream KV_${bucket}); nothing was created\n`,
        );
        return EXIT.notFound;
      }
      return await sagasList(store, {}, values, print);
    } finally {
      await connection.close();
    }
  }
  const pool = await openPool(values, io);
  try {
    const schema = values.schema;
    if (command === "outbox") {
      const backlog = await outboxBacklog(pool, { schema, limit: count(values.limit, "limit", 20) });
      print(backlog, () =>
        [
          fields([
            ["pending", String(backlog.pending)],
            ["failing", String(backlog.failing)],
            ["oldest pending", time(backlog.oldestPendingAt)],
            ["sent (kept)", String(backlog.sent)],
          ]),
          "",
          backlog.rows.length === 0
            ? "nothing pending"
            : table(
                ["ID", "TYPE", "MESSAGE ID", "CREATED", "ATTEMPTS", "LAST ERROR"],
                backlog.rows.map((r) => [
                  String(r.id),
                  r.type,
                  r.messageId,
                  time(r.createdAt),
                  String(r.attempts),
                  r.lastError ?? "",
                ]),
              ),
        ].join("\n"),
      );
      return EXIT.ok;
    }
    if (command === "inbox") {
      const status = await inboxStatus(pool, {
        schema,
        ...(values.table === undefined ? {} : { table: values.table }),
        ...(values["key-prefix"] === undefined ? {} : { keyPrefix: values["key-prefix"] }),
        limit: count(values.limit, "limit", 20),
      });
      print(status, () =>
        [
          fields([
            ["outcomes", String(status.outcomes)],
            ["claims", String(status.claims)],
            ["expired", String(status.expired)],
          ]),
          "",
          status.rows.length === 0
            ? "no rows"
            : table(
                ["KEY", "STATE", "OWNER", "EXPIRES"],
                status.rows.map((r) => [
                  r.key,
                  r.expired ? `${r.state} (expired)` : r.state,
                  r.owner ?? "",
                  time(r.expiresAt),
                ]),
                80,
              ),
        ].join("\n"),
      );
      return EXIT.ok;
    }
    // sagas list
    return await sagasList(
      pool,
      { schema, ...(values.table === undefined ? {} : { table: values.table }) },
      values,
      print,
    );
  } finally {
    await (pool as unknown as { end(): Promise<void> }).end(); // a pg.Pool made by openPool
  }
}

async function dlqCommand(
  command: string,
  args: string[],
  values: Values,
  dlq: DeadLetters,
  io: CliIo,
  print: (json: unknown, text: () => string) => void,
): Promise<number> {
  if (command === "dlq list") {
    const page = await dlq.list({
      ...filterOf(values),
      limit: count(values.limit, "limit", 50),
      ...(values.after === undefined ? {} : { after: values.after }),
    });
    print(page, () => {
      if (page.items.length === 0) return "no dead letters";
      const rows = page.items.map((d) => [
        d.id,
        d.type || "(not an envelope)",
        d.messageId ?? "",
        d.errorCode,
        String(d.deliveries),
        time(d.deadLetteredAt),
        d.consumer ?? "",
        d.errorMessage,
      ]);
      const head = ["ID", "TYPE", "MESSAGE ID", "CODE", "TRIES", "DEAD-LETTERED", "CONSUMER", "ERROR"];
      return `${table(head, rows)}${page.next === undefined ? "" : `\nmore: --after ${page.next}`}`;
    });
    return EXIT.ok;
  }
  if (command === "dlq counts") {
    const counts = await dlq.counts();
    print(counts, () =>
      counts.total === 0
        ? "no dead letters"
        : `${table(
            ["KIND", "TYPE", "COUNT"],
            counts.byType.map((c) => [c.kind, c.type, String(c.count)]),
          )}\ntotal: ${counts.total}`,
    );
    return EXIT.ok;
  }
  if (command === "dlq inspect") {
    if (args.length !== 1) throw new UsageError("dlq inspect takes one id (e.g. event:12)");
    const letter = await dlq.get(args[0]!);
    if (letter === undefined) {
      io.err(`catga: no dead letter has id ${args[0]}\n`);
      return EXIT.notFound;
    }
    print(letter, () => inspectText(letter));
    return EXIT.ok;
  }
  const selector = selectorOf(args, values);
  const progress = progressReporter(io, command === "dlq replay" ? "replayed" : "purged");
  if (command === "dlq purge") {
    const { purged } = await dlq.purge(selector, { onProgress: progress.update });
    progress.end();
    print({ purged }, () => `purged ${purged} dead letter${purged === 1 ? "" : "s"}`);
    return EXIT.ok;
  }
  const report = await dlq.replay(selector, { onProgress: progress.update });
  progress.end();
  print(report, () =>
    [
      `replayed ${report.replayed.length} dead letter${report.replayed.length === 1 ? "" : "s"}`,
      ...report.failed.map((f) => `not replayed ${f.id}: ${f.code} ${f.message}`),
    ].join("\n"),
  );
  return report.failed.length > 0 ? EXIT.failed : EXIT.ok;
}

function inspectText(d: DeadLetter): string {
  const body =
    d.body !== undefined
      ? toJson(d.body)
      : `(${d.codec || "raw"} payload, ${d.payloadBytes} bytes) ${Buffer.from(d.payload).toString("base64")}`;
  return [
    fields([
      ["id", d.id],
      ["kind", d.kind],
      ["type", d.type || "(not a Catga envelope)"],
      ["message id", d.messageId ?? "-"],
      ["correlation id", d.correlationId ?? "-"],
      ["causation id", d.causationId ?? "-"],
      ["trace id", d.traceId ?? "-"],
      ["error", `${d.errorCode} ${d.errorMessage}`],
      ["deliveries", String(d.deliveries)],
      ["consumer", d.consumer ?? "-"],
      ["original subject", d.originalSubject],
      ["original sequence", d.originalSequence === undefined ? "-" : String(d.originalSequence)],
      ["created", time(d.createdAt)],
      ["dead-lettered", time(d.deadLetteredAt)],
      ["codec", d.codec || "-"],
    ]),
    "",
    "headers:",
    ...Object.entries(d.headers).map(([k, v]) => `  ${k}: ${v}`),
    "dead-letter headers:",
    ...Object.entries(d.deadLetterHeaders).map(([k, v]) => `  ${k}: ${v}`),
    "",
    "payload:",
    body,
  ].join("\n");
}

/** Progress on stderr: one redrawn line on a terminal, a line per batch otherwise; nothing for small jobs. */
function progressReporter(io: CliIo, verb: string) {
  let shown = false;
  return {
    update: (p: { selected: number; done: number; failed: number; scanned: boolean }) => {
      if (!shown && p.scanned && p.selected <= 64) return;
      shown = true;
      const of = p.scanned ? `/${p.selected}` : ` (${p.selected} found so far)`;
      const line = `${verb} ${p.done}${of}${p.failed > 0 ? `, ${p.failed} failed` : ""}`;
      io.err(io.errIsTty ? `\r${line}` : `${line}\n`);
    },
    end: () => {
      if (shown && io.errIsTty) io.err("\n");
    },
  };
}

function filterOf(values: Values): DeadLetterFilter {
  const kind = values.kind;
  if (kind !== undefined && kind !== "event" && kind !== "command")
    throw new UsageError(`--kind must be event or command, got "${kind}"`);
  return {
    ...(kind === undefined ? {} : { kind: kind as DeadLetterKind }),
    ...(values.type === undefined ? {} : { type: values.type }),
    ...(values.code === undefined ? {} : { code: values.code }),
    ...(values.consumer === undefined ? {} : { consumer: values.consumer }),
    ...(values["message-id"] === undefined ? {} : { messageId: values["message-id"] }),
    ...(values.since === undefined ? {} : { since: instant(values.since, "since") }),
    ...(values.until === undefined ? {} : { until: instant(values.until, "until") }),
  };
}

function selectorOf(args: string[], values: Values): DeadLetterSelector {
  const filter = filterOf(values);
  const given = [args.length > 0, values.all === true, Object.keys(filter).length > 0].filter(Boolean).length;
  if (given !== 1)
    throw new UsageError("name dead letters by id, by filters, or --all (exactly one of them)");
  if (values.all) return "all";
  return args.length > 0 ? args : filter;
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

function instant(value: string, name: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be an ISO time or epoch ms, got "${value}"`);
  return ms;
}

async function members(
  values: Values,
  io: CliIo,
  print: (json: unknown, text: () => string) => void,
): Promise<number> {
  const waitMs = count(values.wait, "wait", 2500);
  const connection = await openNats(values, io);
  try {
    const prefix = prefixOf(values, io);
    const list = await clusterMembers(connection, {
      waitMs,
      ...(prefix === undefined ? {} : { prefix }),
      ...(values.service === undefined ? {} : { service: values.service }),
    });
    print(list, () =>
      list.length === 0
        ? `no instances heard within ${waitMs} ms`
        : table(
            ["SERVICE", "INSTANCE", "VERSION", "WEIGHT", "LOAD", "HEARTBEAT", "STARTED", "SHARDS"],
            list.map((m) => [
              m.service,
              m.instanceId,
              m.version,
              String(m.weight),
              String(m.load),
              `${m.heartbeatMs} ms`,
              time(m.startedAt),
              m.shards.join(" "),
            ]),
          ),
    );
    return EXIT.ok;
  } finally {
    await connection.close();
  }
}

function prefixOf(values: Values, io: CliIo): string | undefined {
  return values.prefix ?? (io.env.CATGA_PREFIX || undefined);
}

/** `catga sagas list` over PostgreSQL (`pool`) or a NATS KV saga store (`--kv-bucket`). */
async function sagasList(
  source: PgQueryable | NatsKvSagaStore,
  location: SagaStoreLocation,
  values: Values,
  print: (json: unknown, text: () => string) => void,
): Promise<number> {
  if (values.saga === undefined) {
    if (values.status !== undefined || values.after !== undefined || values.limit !== undefined)
      throw new UsageError("--status, --limit and --after need --saga");
    const counts = await sagaCounts(source, location);
    print(counts, () =>
      counts.length === 0
        ? "no saga instances"
        : table(
            ["SAGA", "STATUS", "COUNT", "OLDEST UPDATE"],
            counts.map((c) => [c.saga, c.status, String(c.count), time(c.oldestUpdatedAt)]),
          ),
    );
    return EXIT.ok;
  }
  const instances = await listSagaInstances(
    source,
    {
      saga: values.saga,
      ...(values.status === undefined ? {} : { status: values.status as SagaStatus }),
      limit: count(values.limit, "limit", 100),
      ...(values.after === undefined ? {} : { after: values.after }),
    },
    location,
  );
  print(instances, () =>
    instances.length === 0
      ? "no instances"
      : table(
          ["ID", "STATUS", "STEP", "REVISION", "UPDATED", "ERROR"],
          instances.map((i) => [
            i.id,
            i.status,
            String(i.step),
            String(i.revision),
            time(i.updatedAt),
            i.progress.error === undefined ? "" : `${i.progress.error.code}: ${i.progress.error.message}`,
          ]),
        ),
  );
  return EXIT.ok;
}

async function openNats(values: Values, io: CliIo): Promise<NatsConnection> {
  const servers = values.nats ?? (io.env.CATGA_NATS_URL || "nats://127.0.0.1:4222");
  try {
    return await NatsConnection.connect({
      servers,
      name: "catga-cli",
      whenDisconnected: "reject",
      connectTimeoutMs: 5000,
      maxReconnects: 1,
    });
  } catch (error) {
    // A value that is no server URL is a usage mistake (exit 2), not a server that is down (3).
    if (error instanceof CatgaConfigError)
      throw new UsageError(`--nats ${servers}: ${error.issues.map((i) => i.message).join("; ")}`);
    throw new Unreachable(`cannot connect to NATS at ${servers}: ${(error as Error).message}`);
  }
}

async function openDeadLetters(values: Values, io: CliIo): Promise<DeadLetters> {
  const connection = await openNats(values, io);
  try {
    const prefix = prefixOf(values, io);
    const dlq = await deadLetters(connection, {
      ...(prefix === undefined ? {} : { prefix }),
      ...(values["events-stream"] === undefined ? {} : { eventsStream: values["events-stream"] }),
      ...(values["commands-stream"] === undefined ? {} : { commandsStream: values["commands-stream"] }),
    });
    return { ...bind(dlq), close: () => connection.close() };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/** The methods of `dlq` bound to it, so they survive being spread into another object. */
function bind(dlq: DeadLetters): DeadLetters {
  return {
    list: (q) => dlq.list(q),
    get: (id) => dlq.get(id),
    counts: () => dlq.counts(),
    replay: (s, o) => dlq.replay(s, o),
    purge: (s, o) => dlq.purge(s, o),
    close: () => dlq.close(),
  };
}

async function openPool(values: Values, io: CliIo): Promise<PgQueryable> {
  const url = values.pg ?? (io.env.CATGA_PG_URL || io.env.DATABASE_URL || undefined);
  if (url === undefined)
    throw new UsageError("this command needs PostgreSQL: give --pg <url> or set CATGA_PG_URL");
  let pg: { default?: { Pool: new (o: object) => PgQueryable }; Pool?: new (o: object) => PgQueryable };
  try {
    pg = await import("pg");
  } catch {
    throw new UsageError('this command needs the "pg" package: npm install pg');
  }
  const Pool = pg.Pool ?? pg.default!.Pool;
  const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5000 });
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await (pool as unknown as { end(): Promise<void> }).end().catch(() => undefined); // a pg.Pool
    throw new Unreachable(`cannot connect to PostgreSQL: ${(error as Error).message}`);
  }
  return pool;
}

class Unreachable extends Error {}

function report(error: unknown, command: string, io: CliIo): number {
  if (error instanceof UsageError) {
    io.err(`catga ${command}: ${error.message}\nRun "catga ${command} --help" for usage.\n`);
    return EXIT.usage;
  }
  if (error instanceof Unreachable) {
    io.err(`catga ${command}: ${error.message}\n`);
    return EXIT.unreachable;
  }
  if (error instanceof CatgaError) {
    io.err(`catga ${command}: ${error.code}: ${error.message}\n`);
    const details = error.details as { unknown?: boolean } | undefined;
    if (details?.unknown === true) return EXIT.notFound;
    // A bad value given on the command line (a bucket name, a schema) is the caller's: usage.
    return error.code === ErrorCodes.INVALID_ARGUMENT || error.code === ErrorCodes.CONFIG
      ? EXIT.usage
      : EXIT.failed;
  }
  io.err(`catga ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT.failed;
}
