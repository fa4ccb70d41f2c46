#!/usr/bin/env bash
# Pack smoke test: publish the facade and this platform's binary package the way the release job
# does (scripts/stage-release.mjs + napi prepublish) into a throwaway local registry, install only
# `@catga/native` into a fresh project, then import every entry point from ESM and CJS, run the
# user API over NATS and type-check a consumer with tsc. Proves the published shape works.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
triple=$(node --input-type=module -e 'import { platformTriple } from "./scripts/platform.mjs"; console.log(platformTriple() ?? "")')
[ -n "$triple" ] || { echo "pack-smoke: no binary is shipped for this platform" >&2; exit 1; }
[ -f "catga.$triple.node" ] || { echo "pack-smoke: catga.$triple.node missing; run npm run build first" >&2; exit 1; }
[ -f dist/index.js ] || { echo "pack-smoke: dist/ missing; run npm run build first" >&2; exit 1; }

work=$(mktemp -d)
registry_pid=""
trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"' EXIT

# A throwaway npm registry (verdaccio) on a free loopback port: @catga/* packages live only in
# it, everything else is proxied from the public registry.
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
registry="http://127.0.0.1:$port/"
cat > "$work/verdaccio.yaml" <<YAML
storage: $work/storage
uplinks:
  npmjs:
    url: $(npm config get registry)
packages:
  "@catga/*":
    access: \$all
    publish: \$all
  "**":
    access: \$all
    proxy: npmjs
log: { type: stdout, format: pretty, level: warn }
YAML
"$root/node_modules/.bin/verdaccio" --config "$work/verdaccio.yaml" --listen "127.0.0.1:$port" > "$work/verdaccio.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -sf "${registry}-/ping" >/dev/null && break; sleep 0.2; done
curl -sf "${registry}-/ping" >/dev/null || { cat "$work/verdaccio.log" >&2; echo "pack-smoke: verdaccio did not start" >&2; exit 1; }
# npm wants credentials to publish; verdaccio lets anyone publish @catga/* here.
printf '//127.0.0.1:%s/:_authToken=smoke\nregistry=%s\n' "$port" "$registry" > "$work/.npmrc"
export npm_config_userconfig="$work/.npmrc" npm_config_registry="$registry" npm_config_update_notifier=false

# Publish exactly as the release job does: stage, napi prepublish (platform packages plus the
# facade's optionalDependencies), npm publish.
node scripts/stage-release.mjs "$work/stage" --this-platform
(cd "$work/stage" && npx --prefix "$root" napi prepublish -t npm --no-gh-release >/dev/null && npm publish --silent)
grep -q "\"@catga/native-$triple\"" "$work/stage/package.json" || { echo "pack-smoke: prepublish added no optionalDependencies" >&2; exit 1; }

consumer="$work/consumer"
mkdir -p "$consumer"
cd "$consumer"
echo '{ "name": "consumer", "version": "1.0.0", "private": true }' > package.json
# What a user runs: only the facade; its optional dependency brings this platform's binary.
npm install --silent --no-audit --no-fund @catga/native
[ -f "node_modules/@catga/native-$triple/catga.$triple.node" ] || { echo "pack-smoke: npm i @catga/native did not install @catga/native-$triple" >&2; exit 1; }
node -e 'const p = require("@catga/native/package.json"); if (p.scripts || p.devDependencies) throw new Error("repository-only scripts or devDependencies were published");'
# /nestjs, /fastify and /protobuf need their optional peers; installed after the check above, so
# that one proved `npm i @catga/native` alone brings the binary.
npm install --silent --no-audit --no-fund @nestjs/common@11 @nestjs/core@11 reflect-metadata rxjs fastify@5 fastify-plugin@6 @bufbuild/protobuf@2

cat > esm.mjs <<'JS'
import { CatgaError } from "@catga/native";
import { decodeBatch, encodeBatch, HashRing } from "@catga/native/wire";
const frame = encodeBatch([{ kind: "event", type: "smoke.ok", messageId: "m1", payload: Buffer.from("hi") }]);
const [message] = decodeBatch(frame);
if (message.type !== "smoke.ok" || message.payload.toString() !== "hi") throw new Error("ESM round trip failed");
if (!new HashRing().addNode("a").lookup("k")) throw new Error("ESM ring failed");
try { decodeBatch(Buffer.from("nope")); throw new Error("no error"); } catch (e) { if (!(e instanceof CatgaError) || e.code !== "CATGA_DECODE") throw e; }
console.log("esm ok");
JS
# The user API from the tarball: an in-memory send, then a command and an event across two
# mediators over the local NATS server (what `npm i @catga/native` users run first).
cat > user.mjs <<'JS'
import { createCatga, defineCommand, defineEvent } from "@catga/native";
import { natsTransport } from "@catga/native/nats";
const Add = defineCommand("smoke.add");
const Added = defineEvent("smoke.added");
const local = createCatga().handle(Add, ({ a, b }) => a + b).build();
if ((await local.send(Add, { a: 1, b: 2 })).unwrap() !== 3) throw new Error("in-memory send failed");
const servers = `nats://127.0.0.1:${process.env.NATS_PORT ?? 4222}`;
const prefix = `smoke${process.pid}`;
let seen;
const serverTransport = await natsTransport({ servers, service: "smoke-server", prefix });
const server = createCatga({ transport: serverTransport })
  .handle(Add, ({ a, b }) => a + b)
  .handle(Added, ({ sum }) => { seen = sum; })
  .build();
await serverTransport.ready();
const client = createCatga({ transport: await natsTransport({ servers, service: "smoke-client", prefix }) })
  .remote(Add)
  .build();
const sum = (await client.send(Add, { a: 2, b: 3 })).unwrap();
if (sum !== 5) throw new Error(`remote send gave ${sum}`);
(await client.publish(Added, { sum })).unwrap();
for (let i = 0; i < 100 && seen === undefined; i++) await new Promise((r) => setTimeout(r, 20));
if (seen !== 5) throw new Error("event not delivered");
await Promise.all([client.close(), server.close()]);
console.log("user api ok");
JS
cat > cjs.cjs <<'JS'
const { CatgaError } = require("@catga/native");
const { decodeBatch, encodeBatch } = require("@catga/native/wire");
const frame = encodeBatch([{ kind: "command", type: "smoke.cjs", messageId: "m2", payload: Buffer.from("yo") }]);
if (decodeBatch(frame)[0].payload.toString() !== "yo") throw new Error("CJS round trip failed");
if (typeof CatgaError !== "function") throw new Error("CJS exports missing");
console.log("cjs ok");
JS
cat > consumer.ts <<'TS'
import { type DecodedEnvelope, encodeBatch, decodeBatch, HashRing } from "@catga/native/wire";
const frame: Buffer = encodeBatch([{ kind: "query", type: "t", messageId: "m", payload: new Uint8Array(1) }]);
const decoded: DecodedEnvelope[] = decodeBatch(frame);
const owner: string | undefined = new HashRing().lookup(decoded[0]?.messageId ?? "");
// @ts-expect-error kind must be one of the message kinds
encodeBatch([{ kind: "shout", type: "t", messageId: "m", payload: new Uint8Array(1) }]);
export { owner };
TS
cat > entries.ts <<'TS'
import { type Catga, createCatga, defineCommand, ErrorCodes } from "@catga/native";
import { JetStream, type StreamOptions } from "@catga/native/jetstream";
import { natsTransport, type NatsTransportOptions } from "@catga/native/nats";
import { withObservability } from "@catga/native/observability";
import { PostgresOutbox, type PgPool } from "@catga/native/persistence";
import { createTestCatga } from "@catga/native/testing";
const Ping = defineCommand("smoke.ping").payload<{ n: number }>().returns<number>();
const mediator: Catga<typeof Ping> = createCatga().handle(Ping, ({ n }) => n + 1).build();
const options: NatsTransportOptions = { servers: "nats://127.0.0.1:4222", service: "smoke" };
// @ts-expect-error service is required
const missing: NatsTransportOptions = { servers: "nats://127.0.0.1:4222" };
const stream: StreamOptions = { name: "S", subjects: ["s.>"] };
const code: string = ErrorCodes.TIMEOUT;
export { mediator, options, missing, stream, code, JetStream, natsTransport, withObservability, PostgresOutbox, createTestCatga };
export type { PgPool };
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "types": ["node"], "noEmit": true, "skipLibCheck": false }, "files": ["consumer.ts", "entries.ts"] }
JSON
mkdir -p node_modules/@types && ln -s "$root/node_modules/@types/node" node_modules/@types/node
# Every entry point in package.json "exports" loads from ESM and CJS, and one class is shared
# between them (an error from /wire is an instance of the root's CatgaError).
node --input-type=module -e '
const pkg = JSON.parse(await (await import("node:fs/promises")).readFile("node_modules/@catga/native/package.json", "utf8"));
const { CatgaError } = await import("@catga/native");
for (const key of Object.keys(pkg.exports).filter((k) => k !== "./package.json")) {
  const name = key === "." ? "@catga/native" : `@catga/native/${key.slice(2)}`;
  const esm = await import(name);
  if (Object.keys(esm).length === 0) throw new Error(`${name}: no ESM exports`);
  const cjs = (await import("node:module")).createRequire(process.cwd() + "/")(name);
  if (Object.keys(cjs).sort().join() !== Object.keys(esm).sort().join()) throw new Error(`${name}: CJS and ESM differ`);
}
const { decodeBatch } = await import("@catga/native/wire");
try { decodeBatch(Buffer.from("nope")); } catch (e) { if (!(e instanceof CatgaError)) throw new Error("two CatgaError classes"); }
console.log("entry points ok");
'
# The bin: `npx catga` runs from the installed package.
npx --no-install catga --help | grep -q "^Usage: catga" || { echo "pack-smoke: npx catga --help failed" >&2; exit 1; }
node esm.mjs
node cjs.cjs
node user.mjs
"$root/node_modules/.bin/tsc" -p tsconfig.json
echo "pack smoke test passed"
