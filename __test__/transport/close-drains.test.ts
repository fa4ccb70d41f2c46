import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { natsTransport } from "../../ts/entries/nats.js";
import { createCatga, defineCommand, silentLogger } from "../../ts/index.js";
import { EnvelopeCodec } from "../../ts/nats/wire.js";
import { until } from "../nats/helpers.js";

// Closing a service must answer the requests NATS had already routed to it when it unsubscribed:
// they precede the UNSUB's effect on the server, so they are still on the wire while the client
// drains. A real broker shows this only by chance (the sharding test lost a few per leave in about
// one run in twelve); a scripted server shows it every time: at the UNSUB of the request
// subscription it sends a PING of its own, then three requests, and only then answers the PING
// that follows the UNSUB. The published async-nats dropped those three (crates/vendor/async-nats/PATCHED.md).

const Echo = defineCommand("drain.echo").payload<{ n: number }>().returns<number>();
const PREFIX = "drainfence";
const SUBJECT = `${PREFIX}.cmd.${Echo.type}`;
const INFO = `INFO {"server_id":"scripted","server_name":"scripted","version":"2.10.0","proto":1,"host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576}\r\n`;

/** A NATS server that serves one client by a script, and records the replies it publishes. */
function scriptedServer() {
  const codec = new EnvelopeCodec();
  const replies: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.write(INFO);
    let buffered = Buffer.alloc(0);
    let requestSid: string | undefined;
    let inboxSid: string | undefined;
    // Lines are handled one after another: a pause at the UNSUB holds back the PONG after it.
    let queue = Promise.resolve();
    const request = (sid: string, n: number) => {
      const body = codec.encodeNew("command", Echo.type, {}, { n });
      const head = `MSG ${SUBJECT} ${sid} _INBOX.scripted.${n} ${body.length}\r\n`;
      socket.write(Buffer.concat([Buffer.from(head), body, Buffer.from("\r\n")]));
    };
    const handle = async (line: string, body: Buffer | undefined) => {
      const [op, ...args] = line.split(" ");
      if (op === "PING") socket.write("PONG\r\n");
      else if (op === "SUB" && args[0] === SUBJECT) requestSid = args[args.length - 1];
      else if (op === "SUB" && args[0]!.startsWith("_INBOX.")) inboxSid = args[args.length - 1];
      else if ((op === "PUB" || op === "HPUB") && args[0]!.startsWith("_CATGA.PING.")) {
        // The engine's flush is a request nobody serves: "no responders" ends it.
        const status = "NATS/1.0 503\r\n\r\n";
        socket.write(`HMSG ${args[1]} ${inboxSid} ${status.length} ${status.length}\r\n${status}\r\n`);
      } else if (op === "UNSUB" && args[0] === requestSid) {
        // A PING of the server's own first: it wakes the client's connection handler, so a client
        // that ends the subscription on its next read (async-nats as published) has done so
        // before the three requests arrive, whatever the timing.
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.write("PING\r\n");
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const n of [1, 2, 3]) request(requestSid!, n);
      } else if ((op === "PUB" || op === "HPUB") && args[0]!.startsWith("_INBOX.scripted.") && body)
        replies.push(args[0]!);
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n");
        if (end < 0) return;
        const line = buffered.subarray(0, end).toString();
        const [op, ...args] = line.split(" ");
        let body: Buffer | undefined;
        let used = end + 2;
        if (op === "PUB" || op === "HPUB") {
          const size = Number(args[args.length - 1]);
          if (buffered.length < used + size + 2) return; // the rest of the message is still coming
          body = buffered.subarray(used, used + size);
          used += size + 2;
        }
        buffered = buffered.subarray(used);
        queue = queue.then(() => handle(line, body));
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  return {
    replies,
    async listen(): Promise<string> {
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      return `nats://127.0.0.1:${address.port}`;
    },
    close(): void {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

const server = scriptedServer();
afterAll(() => server.close());

describe("closing a NATS transport", () => {
  it("answers the requests the server routed to it before it processed the UNSUB", async () => {
    const servers = await server.listen();
    const transport = await natsTransport({ servers, service: "echo", prefix: PREFIX });
    const handled: number[] = [];
    const catga = createCatga({ logger: silentLogger, transport })
      .handle(Echo, async ({ n }) => {
        handled.push(n);
        return n;
      })
      .build();
    await transport.ready();

    await catga.close();

    expect(handled).toEqual([1, 2, 3]);
    // The replies left before the connection closed; this process reads them when it gets to.
    await until(() => server.replies.length >= 3, 2000, "three replies");
    expect(server.replies.sort()).toEqual(["_INBOX.scripted.1", "_INBOX.scripted.2", "_INBOX.scripted.3"]);
  });
});
