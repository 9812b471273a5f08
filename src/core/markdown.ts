/** Text for GitHub-flavoured Markdown tables. */

/** Escape the characters that would break a table cell (`|`). */
export function escapeMarkdownCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
