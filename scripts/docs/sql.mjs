// The docs' SQL blocks, run by PostgreSQL without leaving a trace. Lint needs no services, so
// __test__/docs/sql-blocks.test.ts does this against the test database, not check-docs.mjs.

/**
 * The statements of a SQL block, each `{ text, line, parameters }`: split at `;` outside strings,
 * quoted names, comments and dollar quotes; `parameters` when it uses `$1`-style placeholders.
 */
export function sqlStatements(body, firstLine) {
  const text = body.join("\n");
  const statements = [];
  let from = 0;
  let line = firstLine;
  let start = null; // line of the statement's first code character
  let parameters = false;
  const end = (to) => {
    const statement = text.slice(from, to).trim();
    if (start !== null && statement) statements.push({ text: statement, line: start, parameters });
    from = to + 1;
    start = null;
    parameters = false;
  };
  const skipTo = (i, close) => {
    const found = text.indexOf(close, i);
    const to = found < 0 ? text.length : found + close.length - 1;
    line += (text.slice(i, to).match(/\n/g) ?? []).length;
    return to;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      line++;
      continue;
    }
    if (c === "-" && text[i + 1] === "-") {
      i = skipTo(i, "\n") - 1; // the newline itself counts the line
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      i = skipTo(i + 2, "*/");
      continue;
    }
    if (/\s/.test(c)) continue;
    start ??= line;
    if (c === ";") end(i);
    else if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped one: the scan resumes right after it.
      i = skipTo(i + 1, c);
    } else if (c === "$") {
      const tag = /^\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$/.exec(text.slice(i));
      if (tag) i = skipTo(i + tag[0].length, tag[0]);
      else if (/\d/.test(text[i + 1] ?? "")) parameters = true;
    }
  }
  end(text.length);
  return statements;
}

/**
 * Runs each block's statements (`{ rel, block }`) in a transaction of its own, in a schema of its
 * own (`<schemaPrefix>_<n>`, a plain lower-case name), and rolls it back: a statement with
 * parameters is only prepared (parsed and planned against the tables the block made), any other
 * is executed. `query` sends one SQL text (a pg client's `query`). Returns "file:line: message"
 * for each statement PostgreSQL refused.
 */
export async function sqlProblems(query, blocks, schemaPrefix) {
  const problems = [];
  let n = 0;
  for (const { rel, block } of blocks) {
    const schema = `${schemaPrefix}_${n++}`;
    await query("BEGIN");
    try {
      await query(`CREATE SCHEMA ${schema}`);
      await query(`SET LOCAL search_path TO ${schema}`);
      for (const statement of sqlStatements(block.body, block.line)) {
        await query("SAVEPOINT statement");
        try {
          if (statement.parameters) {
            await query(`PREPARE docs_statement AS ${statement.text}`);
            await query("DEALLOCATE docs_statement");
          } else await query(statement.text);
        } catch (error) {
          problems.push(`${rel}:${statement.line}: ${error.message}`);
          await query("ROLLBACK TO SAVEPOINT statement");
        }
      }
    } finally {
      await query("ROLLBACK");
    }
  }
  return problems;
}
