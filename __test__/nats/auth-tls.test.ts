import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { afterAll, describe, expect, it } from "vitest";
import { NatsConnection, type NatsConnectionOptions } from "../../ts/entries/nats.js";
import { CatgaError } from "../../ts/index.js";
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

type Credentials = Omit<NatsConnectionOptions, "servers">;

/**
 * Connects with `accepted` and round-trips a request over that connection, then expects
 * `rejected` to be refused at connect with `code`: CATGA_PERMISSION_DENIED for credentials the
 * server refuses (not an outage: no retry fixes it); a failed TLS handshake is CATGA_NOT_CONNECTED.
 */
async function expectAuth(
  servers: string,
  accepted: Credentials,
  rejected: Credentials,
  code = "CATGA_PERMISSION_DENIED",
): Promise<void> {
  const ok = await NatsConnection.connect({ servers, ...accepted, noEcho: false });
  expect(await roundTrip(ok)).toBe("hello");
  await ok.close();
  const error = await NatsConnection.connect({
    servers,
    ...rejected,
    maxReconnects: 1,
    connectTimeoutMs: 1000,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CatgaError);
  expect((error as CatgaError).code).toBe(code);
}

describe("authentication", () => {
  it("connects with user and password, and refuses wrong ones with CATGA_PERMISSION_DENIED", async () => {
    const nats = await server(["--user", "alice", "--pass", "s3cret"]);
    await expectAuth(nats.url, { user: "alice", pass: "s3cret" }, { user: "alice", pass: "nope" });
  });

  it("connects with a token", async () => {
    const nats = await server(["--auth", "t0k3n"]);
    await expectAuth(nats.url, { token: "t0k3n" }, { token: "wrong" });
  });
});

describe("NKey authentication", () => {
  it("connects with an NKey seed the server knows, and refuses another one", async () => {
    const user = createUser();
    const stranger = createUser();
    const seed = (pair: typeof user) => new TextDecoder().decode(pair.getSeed());
    const config = join(dir, "nkey.conf");
    writeFileSync(config, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    const nats = await server(["-c", config]);
    await expectAuth(nats.url, { nkeySeed: seed(user) }, { nkeySeed: seed(stranger) });
  });

  it("refuses a malformed seed before connecting, naming nkeySeed and not echoing the seed", async () => {
    const nats = await server([]);
    const good = new TextDecoder().decode(createUser().getSeed());
    // A public key where a seed belongs, a seed with a wrong checksum, and plain text.
    for (const bad of [
      createUser().getPublicKey(),
      `${good.slice(0, 10)}${good[10] === "A" ? "B" : "A"}${good.slice(11)}`,
      "not-a-seed",
    ]) {
      const error = await NatsConnection.connect({ servers: nats.url, nkeySeed: bad }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CatgaError);
      expect((error as CatgaError).code).toBe("CATGA_INVALID_ARGUMENT");
      expect((error as CatgaError).message).toContain("nkeySeed");
      expect((error as CatgaError).message).not.toContain(bad);
    }
  });

  it("connects with a credentials file (user JWT + seed) under an operator, and refuses a forged one", async () => {
    // Operator mode: operator -> account -> user, with the account JWT preloaded in the server.
    const operator = createOperator();
    const account = createAccount();
    const user = createUser();
    const operatorJwt = await encodeOperator("catga-test-op", operator);
    const unlimited = {
      conn: -1,
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
    };
    const accountJwt = await encodeAccount(
      "catga-test-acct",
      account,
      { limits: unlimited },
      { signer: operator },
    );
    // The private servers run JetStream, which needs a system account in operator mode.
    const system = createAccount();
    const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
    const config = join(dir, "operator.conf");
    writeFileSync(
      config,
      [
        `operator: ${operatorJwt}`,
        `system_account: ${system.getPublicKey()}`,
        "resolver: MEMORY",
        `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
      ].join("\n"),
    );
    const nats = await server(["-c", config]);
    const creds = join(dir, "user.creds");
    writeFileSync(creds, fmtCreds(await encodeUser("catga-test-user", user, account), user));
    // The forged one: same user, but its JWT is signed by an account the server does not know.
    const forged = join(dir, "forged.creds");
    writeFileSync(forged, fmtCreds(await encodeUser("catga-test-user", user, createAccount()), user));
    await expectAuth(nats.url, { credentialsFile: creds }, { credentialsFile: forged });
  });
});

describe("TLS", () => {
  // A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl
  // for this run.
  const ca = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
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
  /** A key and a certificate for `cn`, signed by the CA, with one x509v3 extension line. */
  const issue = (name: string, cn: string, extension: string) => {
    const [key, csr, cert, ext] = ["-key.pem", ".csr", ".pem", ".cnf"].map((end) => join(dir, name + end));
    writeFileSync(ext!, `${extension}\n`);
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", key!, "-out", csr!);
    openssl(
      "x509",
      ...["-req", "-in", csr!, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1"],
      ...["-extfile", ext!, "-out", cert!],
    );
    return { cert: cert!, key: key! };
  };
  const { cert, key } = issue("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost");
  const client = issue("client", "catga-test-client", "extendedKeyUsage=clientAuth");

  it("connects over TLS with the CA file, and fails without trusting the CA", async () => {
    const nats = await server(["--tls", "--tlscert", cert, "--tlskey", key]);
    await expectAuth(
      `tls://127.0.0.1:${nats.port}`,
      { tls: { required: true, caFile: ca } },
      { tls: { required: true } },
      "CATGA_NOT_CONNECTED",
    );
  });

  it("presents a client certificate when the server verifies clients (mutual TLS)", async () => {
    const nats = await server(["--tlsverify", "--tlscert", cert, "--tlskey", key, "--tlscacert", ca]);
    await expectAuth(
      `tls://127.0.0.1:${nats.port}`,
      { tls: { required: true, caFile: ca, certFile: client.cert, keyFile: client.key } },
      { tls: { required: true, caFile: ca } },
      "CATGA_NOT_CONNECTED",
    );
  });
});
