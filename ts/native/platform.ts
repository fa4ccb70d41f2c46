/** Platforms we ship binaries for, as napi-rs triples (also the suffix of each npm/ package). */
export const SUPPORTED_TRIPLES = [
  "linux-x64-gnu",
  "linux-x64-musl",
  "linux-arm64-gnu",
  "darwin-x64",
  "darwin-arm64",
  "win32-x64-msvc",
] as const;

/** One of {@link SUPPORTED_TRIPLES}: a platform with a prebuilt addon package. */
export type PlatformTriple = (typeof SUPPORTED_TRIPLES)[number];

/** glibc reports its version in the process report; musl (Alpine) does not. */
export function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

/** The triple for a platform/arch pair, or undefined when no binary is shipped for it. */
export function platformTriple(
  platform: string = process.platform,
  arch: string = process.arch,
  musl: () => boolean = isMusl,
): PlatformTriple | undefined {
  switch (`${platform}-${arch}`) {
    case "linux-x64":
      return musl() ? "linux-x64-musl" : "linux-x64-gnu";
    case "linux-arm64":
      return musl() ? undefined : "linux-arm64-gnu";
    case "darwin-x64":
      return "darwin-x64";
    case "darwin-arm64":
      return "darwin-arm64";
    case "win32-x64":
      return "win32-x64-msvc";
    default:
      return undefined;
  }
}

/** The npm package that carries the binary for a triple. */
export function platformPackage(triple: string): string {
  return `@catga/native-${triple}`;
}
