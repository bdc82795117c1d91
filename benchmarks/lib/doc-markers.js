/**
 * Replaces what lies between `<!-- name:start -->` and `<!-- name:end -->` in a document,
 * leaving everything outside the markers as it was. Without the markers, the block is added
 * as a new section before `beforeHeading` (or at the end).
 */
export function replaceBetweenMarkers(doc, name, content, { beforeHeading, heading }) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${content.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  const section = `${heading}\n\n${block}\n\n`;
  const at = beforeHeading ? doc.indexOf(`\n${beforeHeading}\n`) : -1;
  return at >= 0 ? `${doc.slice(0, at + 1)}${section}${doc.slice(at + 1)}` : `${doc.trimEnd()}\n\n${section}`;
}
