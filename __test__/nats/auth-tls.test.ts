import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CatgaError, NatsConnection } from "../../ts/index.js";
import { decodeWire } from "../../ts/nats/wire.js";
import { eventEnvelope, PrivateNats } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "catga-tls-"));
const servers: PrivateNats[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

async function server(args: string[]): Promise<PrivateNats> {
  const started = await PrivateNats.start(args);
  servers.push(started);
  return started;
}

async function roundTrip(connection: NatsConnection): Promise<string> {
  const stop = await connection.subscribe("auth.cmd.echo", {}, async (batch) => {
    await Promise.all(batch.envelopes.map((bytes, i) => connection.reply(batch.replies[i]!, bytes)));
  });
  const other = connection;
  try {
    // noEcho is off for these connections so one connection can answer itself.
    return decodeWire(await other.request("auth.cmd.echo", eventEnvelope("hello"))).messageId;
  } finally {
    await stop();
  }
}

async function refused(promise: Promise<unknown>): Promise<CatgaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CatgaError);
  return error as CatgaError;
}

describe("authentication", () => {
  it("connects with user and password, and refuses wrong ones with CATGA_NOT_CONNECTED", async () => {
    const nats = await server(["--user", "alice", "--pass", "s3cret"]);
    const ok = await NatsConnection.connect({
      servers: nats.url,
      user: "alice",
      pass: "s3cret",
      noEcho: false,
    });
    expect(await roundTrip(ok)).toBe("hello");
    await ok.close();
    const error = await refused(
      NatsConnection.connect({
        servers: nats.url,
        user: "alice",
        pass: "nope",
        maxReconnects: 0,
        connectTimeoutMs: 1000,
      }),
    );
    expect(error.code).toBe("CATGA_NOT_CONNECTED");
  });

  it("connects with a token", async () => {
    const nats = await server(["--auth", "t0k3n"]);
    const ok = await NatsConnection.connect({ servers: nats.url, token: "t0k3n", noEcho: false });
    expect(await roundTrip(ok)).toBe("hello");
    await ok.close();
    const error = await refused(
      NatsConnection.connect({ servers: nats.url, token: "wrong", maxReconnects: 0, connectTimeoutMs: 1000 }),
    );
    expect(error.code).toBe("CATGA_NOT_CONNECTED");
  });
});

describe("TLS", () => {
  // A throwaway CA and a server certificate for 127.0.0.1, made with openssl for this run.
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  const cert = join(dir, "server.pem");
  const key = join(dir, "server-key.pem");
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=catga-test-ca",
    "-keyout",
    caKey,
    "-out",
    ca,
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    key,
    "-out",
    join(dir, "server.csr"),
  );
  const ext = join(dir, "ext.cnf");
  execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`]);
  openssl(
    "x509",
    "-req",
    "-in",
    join(dir, "server.csr"),
    "-CA",
    ca,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    ext,
    "-out",
    cert,
  );

  it("connects over TLS with the CA file, and fails without trusting the CA", async () => {
    const nats = await server(["--tls", "--tlscert", cert, "--tlskey", key]);
    const url = `tls://127.0.0.1:${nats.port}`;
    const ok = await NatsConnection.connect({
      servers: url,
      tls: { required: true, caFile: ca },
      noEcho: false,
    });
    expect(await roundTrip(ok)).toBe("hello");
    await ok.close();
    const error = await refused(
      NatsConnection.connect({
        servers: url,
        tls: { required: true },
        maxReconnects: 0,
        connectTimeoutMs: 1000,
      }),
    );
    expect(error.code).toBe("CATGA_NOT_CONNECTED");
  });
});
