// The docs' JSON blocks must parse: a reader copies them into config files and requests.

/** Pushes a "file:line: invalid JSON" problem for `block` when its body does not parse. */
export function jsonProblems(rel, block, problems) {
  const text = block.body.join("\n");
  try {
    JSON.parse(text);
  } catch (error) {
    // V8 names the offset ("… in JSON at position 42"); at the end of the input it names none.
    const position = /position (\d+)/.exec(error.message);
    const before = position ? text.slice(0, Number(position[1])) : text.trimEnd();
    const line = block.line + (before.match(/\n/g) ?? []).length;
    // The line replaces V8's offset (and the "(line … column …)" newer versions add).
    const reason = error.message.replace(/ in JSON at position \d+.*$/, "");
    problems.push(`${rel}:${line}: invalid JSON: ${reason}`);
  }
}
