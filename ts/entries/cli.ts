#!/usr/bin/env node
// The `catga` command (package.json "bin"): `npx catga --help`.
import { run } from "../operations/cli/main.js";

void run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  errIsTty: process.stderr.isTTY === true,
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
