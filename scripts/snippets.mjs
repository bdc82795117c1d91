// Keeps the code blocks of docs/*.md equal to the example files they name, so every snippet in
// the docs is a file the typecheck compiles. `node scripts/snippets.mjs` rewrites the blocks;
// the getting-started test fails when a block has drifted from its file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BLOCK = /<!-- snippet: (\S+) -->\n```ts\n[\s\S]*?```/g;

export function render(markdown) {
  return markdown.replace(BLOCK, (_m, file) => {
    const code = fs.readFileSync(path.join(root, file), 'utf8').trimEnd();
    return `<!-- snippet: ${file} -->\n\`\`\`ts\n${code}\n\`\`\``;
  });
}

export function docsWithSnippets() {
  const dir = path.join(root, 'docs');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.md')).map((f) => path.join(dir, f));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of docsWithSnippets()) {
    const before = fs.readFileSync(file, 'utf8');
    const after = render(before);
    if (before !== after) fs.writeFileSync(file, after);
  }
}
