// The napi-rs platform triple for this machine, e.g. `linux-x64-gnu`; undefined when the
// package ships no binary for it. Kept in step with ts/native/platform.ts.
export function platformTriple(platform = process.platform, arch = process.arch) {
  const musl = platform === "linux" && isMusl();
  const table = {
    "linux-x64": musl ? "linux-x64-musl" : "linux-x64-gnu",
    "linux-arm64": musl ? undefined : "linux-arm64-gnu",
    "darwin-x64": "darwin-x64",
    "darwin-arm64": "darwin-arm64",
    "win32-x64": "win32-x64-msvc",
  };
  return table[`${platform}-${arch}`];
}

function isMusl() {
  const report = process.report?.getReport();
  return !report?.header?.glibcVersionRuntime;
}
