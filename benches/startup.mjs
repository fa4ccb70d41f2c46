// Start-up as a whole process, the way a service starts (issue 13's start-up bar):
//   node benches/startup.mjs nats     import + createCatga(...).build() + natsTransport connected and ready
//   node benches/startup.mjs memory   import + an in-memory mediator + one send (must not load the addon)
//   node benches/startup.mjs bare     nothing (the baseline: a bare `node` process)
// Time it from outside over several runs against `bare` (e.g. hyperfine, or `/usr/bin/time -v` in a
// loop) and quote the median difference. `memory` exits with code 3 if Catga's native addon was loaded.
import { createRequire } from "node:module";

const mode = process.argv[2] ?? "nats";
if (mode !== "bare") {
  const { createCatga, defineCommand } = await import("../dist/index.js");
  const { natsTransport } = await import("../dist/nats.js");
  const Ping = defineCommand("startup.ping");
  if (mode === "nats") {
    const transport = await natsTransport({
      servers: `nats://127.0.0.1:${process.env.NATS_PORT ?? 4222}`,
      service: "startup",
      prefix: `startup${process.pid}`,
    });
    const catga = createCatga()
      .handle(Ping, () => "pong")
      .withTransport(transport)
      .build();
    await transport.ready();
    await catga.close();
  } else {
    const catga = createCatga()
      .handle(Ping, () => "pong")
      .build();
    (await catga.send(Ping, {})).unwrap();
    // Catga's own addon (msgpackr may load its optional msgpackr-extract addon; that is not ours).
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) =>
      /(^|[/\\])catga[^/\\]*\.node$/.test(path),
    );
    if (loaded.length > 0) {
      console.error(`the in-memory mediator loaded ${loaded.join(", ")}`);
      process.exit(3);
    }
  }
}
