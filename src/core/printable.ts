/**
 * File-derived text made safe to print: control characters (which could move the cursor,
 * clear the screen or forge lines in a terminal or a log) become visible escapes.
 */

/** `\n` -> `\\n`, `\t` -> `\\t`, other C0/C1 controls and DEL -> `\\xNN` / `\\u00NN`; a backslash stays as it is. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
