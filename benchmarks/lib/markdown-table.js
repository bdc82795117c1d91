/** A GitHub markdown table; columns after the first `labelColumns` are right-aligned numbers. */
export function markdownTable(header, rows, labelColumns = 1) {
  const align = header.map((_, i) => (i < labelColumns ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

