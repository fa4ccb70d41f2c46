// The package's shape: every rule has a page, is listed in the README, and sits in the configs.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import plugin from "../src/index.js";

const here = (path: string) => new URL(`../${path}`, import.meta.url);
const names = Object.keys(plugin.rules);

describe("@catga/eslint-plugin package", () => {
  it("has a doc page per rule, linted from meta.docs.url and listed in the README", () => {
    const readme = readFileSync(here("README.md"), "utf8");
    for (const [name, rule] of Object.entries(plugin.rules)) {
      expect(existsSync(here(`docs/rules/${name}.md`)), name).toBe(true);
      expect(rule.meta.docs?.url).toMatch(new RegExp(`/eslint-plugin/docs/rules/${name}\\.md$`));
      expect(readme).toContain(`(docs/rules/${name}.md)`);
    }
  });

  it("recommended holds every rule but no-unhandled-event, all holds every rule, at error", () => {
    const recommended = plugin.configs.recommended.rules ?? {};
    expect(Object.keys(recommended).sort()).toEqual(
      names
        .filter((n) => n !== "no-unhandled-event")
        .map((n) => `@catga/${n}`)
        .sort(),
    );
    expect(Object.keys(plugin.configs.all.rules ?? {}).sort()).toEqual(
      names.map((n) => `@catga/${n}`).sort(),
    );
    expect(new Set(Object.values(plugin.configs.all.rules ?? {}))).toEqual(new Set(["error"]));
    expect(plugin.configs.recommended.plugins?.["@catga"]).toBe(plugin);
  });

  it("names the same version as its package.json", () => {
    const pkg = JSON.parse(readFileSync(here("package.json"), "utf8")) as { name: string; version: string };
    expect(plugin.meta).toEqual({ name: pkg.name, version: pkg.version });
  });
});
