// Where the examples that need a server find it, and how they stop when it is not there.
// Defaults are the services `bash scripts/services.sh` starts on this machine.

/** NATS with JetStream. */
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
/** PostgreSQL; any database works, the examples create what they use in their own schema. */
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/**
 * The subject prefix (and stream names) of this run. A real service keeps the default (`catga`);
 * the tests give each run its own so that two runs on one server never share streams.
 */
export const PREFIX = process.env.CATGA_PREFIX ?? "examples";

/**
 * For `.catch()` on an example's first connection: says which service is missing and how to start
 * it, then exits with status 2 instead of a stack trace.
 */
export function needs(service: "NATS" | "PostgreSQL") {
  const [url, variable] = service === "NATS" ? [NATS_URL, "NATS_URL"] : [DATABASE_URL, "DATABASE_URL"];
  return (error: unknown): never => {
    const reason =
      error instanceof Error
        ? `${(error as { code?: string }).code ?? error.name}: ${error.message}`
        : String(error);
    console.error(
      `This example needs ${service} at ${url} (set ${variable} to change it); it is not reachable.`,
    );
    console.error(`  ${reason}`);
    console.error("  Start the local services with: bash scripts/services.sh");
    process.exit(2);
  };
}

/** The PostgreSQL schema the examples create their tables in (the tests give each run its own). */
export const SCHEMA = process.env.CATGA_SCHEMA ?? "catga_examples";
