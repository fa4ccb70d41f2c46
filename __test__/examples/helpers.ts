import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { JetStream } from "../../ts/jetstream/jetstream.js";
import { NatsConnection } from "../../ts/nats/connection.js";
import { NATS_URL } from "../nats/helpers.js";
import { PG_URL } from "../persistence/helpers.js";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** What one run of an example printed, and how it ended. */
export interface ExampleRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: string[];
}

/**
 * Runs `npm run example:<name>`, the command examples/README.md gives, against the built package
 * (dist/, as `npm run test:ts` builds it first), and resolves when it exits. A run that takes
 * longer than `timeoutMs` is killed and rejects.
 */
export function runExample(
  name: string,
  env: Record<string, string> = {},
  timeoutMs = 45_000,
): Promise<ExampleRun> {
  if (!existsSync(join(root, "dist", "index.js")))
    throw new Error("dist/ is missing: run `npm run build:ts` first");
  const child = spawn("npm", ["run", "--silent", `example:${name}`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`example:${name} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, lines: stdout.split("\n").filter((line) => line !== "") });
    });
  });
}

/**
 * A run of examples on the machine's NATS and PostgreSQL with its own prefix (so its own streams)
 * and schema, so runs side by side never see each other's messages: `env` for `runExample`, and
 * `cleanup` (for `afterAll`) that drops the schema and the streams a run may leave behind.
 */
export function isolatedRun(label: string): { env: Record<string, string>; cleanup: () => Promise<void> } {
  const run = `${label}${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  const env = { NATS_URL, DATABASE_URL: PG_URL, CATGA_PREFIX: run, CATGA_SCHEMA: run };
  const cleanup = async () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`).finally(() => pool.end());
    const connection = await NatsConnection.connect({ servers: NATS_URL });
    const jetstream = new JetStream(connection);
    const upper = run.toUpperCase();
    for (const stream of ["EVENTS", "EVENTS_DLQ", "COMMANDS", "COMMANDS_DLQ", "COMMANDS_RESULTS", "SCHEDULE"])
      await jetstream.deleteStream(`${upper}_${stream}`).catch(() => false);
    await jetstream.deleteStream(`KV_${run}_cluster`).catch(() => false); // the cluster example's bucket
    await connection.close();
  };
  return { env, cleanup };
}

/**
 * The output an example's page shows (the first ```text block of docs/examples/<name>.md), line
 * by line without blank lines, to check the page against what the example prints.
 */
export function documentedOutput(name: string): string[] {
  const page = readFileSync(join(root, "docs", "examples", `${name}.md`), "utf8");
  const block = /^```text\n([\s\S]*?)^```/m.exec(page);
  if (block === null) throw new Error(`docs/examples/${name}.md shows no output block`);
  return block[1]!.split("\n").filter((line) => line !== "");
}
