/**
 * The rule factory every rule of the plugin is made with: typed options and message ids, and a
 * docs URL per rule (eslint-plugin/docs/rules/<name>.md).
 */
import { ESLintUtils } from "@typescript-eslint/utils";

/** Where the rule pages live; one constant so moving the repository is one edit. */
export const DOCS_BASE = "https://github.com/catga/native/blob/main/eslint-plugin/docs/rules/";

/** Extra `meta.docs` fields of this plugin's rules. */
export interface CatgaRuleDocs {
  /** In `configs.recommended`. */
  readonly recommended: boolean;
  /** Uses type information when the parser provides it (and falls back to names without). */
  readonly typeAware?: boolean;
}

export const createRule = ESLintUtils.RuleCreator<CatgaRuleDocs>((name) => `${DOCS_BASE}${name}.md`);
