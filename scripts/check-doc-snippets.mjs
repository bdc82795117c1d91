// Checks the TypeScript and JavaScript code blocks that users paste from README.md, docs/*.md and
// packages/*/README.md: each one must type-check against the built packages (dist/, through the
// `@skein/*` package entry points only, as an installed app sees them), and the ones marked `run`
// must also run and print what the page says. Prose alone never keeps a snippet honest: names
// get renamed and options dropped, and nothing else compiles the docs.
//
// A block is a complete module unless an HTML comment on the line right before its fence says
// otherwise (documented in docs/contributing.md, "Code in the docs"):
//   <!-- snippet: path -->             the block is a copy of that file (scripts/snippets.mjs),
//                                      which the repository's own typecheck compiles
//   <!-- doc-snippet: fragment         a part of a program: the lines up to `-->` are a hidden
//   import ...; declare const x: T;    prelude (imports, declarations) prepended before checking
//   -->
//   <!-- doc-snippet: run              a complete program: checked, then run with node; each
//   expected line of stdout            following line must appear in its output. Its address
//   -->                                127.0.0.1:4000 is swapped for a free port when it runs,
//                                      so a server already on 4000 (the demo's) cannot fail it
//   <!-- doc-snippet: skip <why> -->   not checked (a sketch, another runtime's syntax); the why
//                                      is required
// Usage: node scripts/check-doc-snippets.mjs [--no-run]   (needs `pnpm build` first)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'mts']);
const RUN_TIMEOUT_MS = 30_000; // a safety net for a snippet that never exits, not a speed bound
const RUN_ADDRESS = /127\.0\.0\.1:4000\b/g;

/** The markdown files users read, relative to the repository root. */
export function docFiles() {
  const docs = fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  const readmes = fs
    .readdirSync(path.join(root, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => fs.existsSync(path.join(root, f)));
  return ['README.md', ...docs.sort(), ...readmes.sort()];
}

/** Every ts/js block of one markdown text, with the marker that precedes it. */
export function extractSnippets(markdown, file) {
  const lines = markdown.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
    if (LANGS.has(open[1])) {
      out.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n'), marker: markerBefore(lines, i, file) });
    }
    i = end;
  }
  return out;
}

function markerBefore(lines, fence, file) {
  const prev = lines[fence - 1] ?? '';
  const copy = /^<!-- snippet: (\S+) -->$/.exec(prev);
  if (copy) return { kind: 'copy', path: copy[1] };
  if (!prev.trimEnd().endsWith('-->')) return { kind: 'module' };
  let start = fence - 1;
  while (start > 0 && !lines[start].includes('<!--')) start--;
  const text = lines.slice(start, fence).join('\n');
  const m = /^<!-- doc-snippet: (\w+)([^\n]*)\n?([\s\S]*?)-->\s*$/.exec(text);
  if (!m) return { kind: 'module' }; // an unrelated comment
  const [, kind, rest, body] = m;
  const where = `${file}:${fence + 1}`;
  if (kind === 'fragment') return { kind, prelude: body.trimEnd() };
  if (kind === 'run') return { kind, expect: body.split('\n').map((l) => l.trim()).filter(Boolean) };
  if (kind === 'skip') {
    if (!rest.trim()) throw new Error(`${where}: a skip marker must say why`);
    return { kind, reason: rest.trim() };
  }
  throw new Error(`${where}: unknown marker "doc-snippet: ${kind}"`);
}

/** All snippets of all doc files. */
export function collectSnippets() {
  return docFiles().flatMap((f) => extractSnippets(fs.readFileSync(path.join(root, f), 'utf8'), f));
}

/**
 * A scratch app outside the workspace whose node_modules holds every @skein package and the
 * third-party modules snippets import, so resolution goes through package exports to dist/.
 */
function scratchApp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-doc-snippets-'));
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, '@skein'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const link = (name, target) => {
    const at = path.join(nm, name);
    if (fs.existsSync(at) || !fs.existsSync(target)) return;
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(target, at, 'dir');
  };
  link('@types', path.join(root, 'node_modules/@types'));
  // The workspace's packages, and its examples (docs/transports.md uses one by name).
  for (const base of ['packages', 'examples']) {
    for (const p of fs.readdirSync(path.join(root, base))) {
      const manifest = path.join(root, base, p, 'package.json');
      if (fs.existsSync(manifest)) link(JSON.parse(fs.readFileSync(manifest, 'utf8')).name, path.dirname(manifest));
    }
  }
  // Third-party modules a snippet imports directly (etcd3, zod, @opentelemetry/api, vitest...):
  // taken from whichever workspace package depends on them.
  for (const base of ['packages', 'examples']) {
    for (const p of fs.readdirSync(path.join(root, base))) {
      const pkgNm = path.join(root, base, p, 'node_modules');
      if (!fs.existsSync(pkgNm)) continue;
      for (const name of fs.readdirSync(pkgNm)) {
        if (name.startsWith('.') || name === '@skein') continue;
        if (!name.startsWith('@')) link(name, path.join(pkgNm, name));
        else for (const sub of fs.readdirSync(path.join(pkgNm, name))) link(`${name}/${sub}`, path.join(pkgNm, name, sub));
      }
    }
  }
  return dir;
}

function sourceOf(s) {
  const prelude = s.marker.kind === 'fragment' && s.marker.prelude ? `${s.marker.prelude}\n` : '';
  // `export {}` makes every block a module, so top-level await and its own names are allowed.
  return { text: `${prelude}${s.code}\nexport {};\n`, preludeLines: prelude ? prelude.split('\n').length - 1 : 0 };
}

/** Type-checks every checkable snippet; returns the problems as `file:line: message` strings. */
export async function typecheckSnippets(snippets, dir) {
  const ts = (await import('typescript')).default;
  const files = new Map();
  snippets.forEach((s, i) => {
    if (s.marker.kind === 'skip' || s.marker.kind === 'copy') return;
    const name = path.join(dir, `snippet-${String(i).padStart(3, '0')}.ts`);
    const { text, preludeLines } = sourceOf(s);
    fs.writeFileSync(name, text);
    files.set(name, { s, preludeLines });
  });
  const program = ts.createProgram([...files.keys()], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noImplicitOverride: true,
    esModuleInterop: true,
    skipLibCheck: true,
    isolatedModules: true,
    types: ['node'],
    noEmit: true,
  });
  const problems = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const f = d.file && files.get(path.resolve(d.file.fileName));
    if (!f) {
      problems.push(`(outside the snippets) ${d.file?.fileName ?? ''}: ${msg}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const at = line < f.preludeLines ? `${f.s.file}:${f.s.line - 1} (its fragment prelude, line ${line + 1})` : `${f.s.file}:${f.s.line + 1 + line - f.preludeLines}`;
    problems.push(`${at}: TS${d.code}: ${msg}`);
  }
  return problems;
}

/** Runs the snippets marked `run` with node; returns the problems. */
export async function runSnippets(snippets, dir) {
  const ts = (await import('typescript')).default;
  const problems = [];
  for (const [i, s] of snippets.entries()) {
    if (s.marker.kind !== 'run') continue;
    const js = ts.transpileModule(sourceOf(s).text, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
    }).outputText;
    const name = path.join(dir, `run-${i}.mjs`);
    fs.writeFileSync(name, js.replace(RUN_ADDRESS, `127.0.0.1:${await freePort()}`));
    const r = spawnSync(process.execPath, [name], { cwd: dir, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    const where = `${s.file}:${s.line}`;
    if (r.error) problems.push(`${where}: did not finish: ${r.error.message}`);
    else if (r.status !== 0) problems.push(`${where}: exited ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
    const stdout = (r.stdout ?? '').split('\n').map((l) => l.trim());
    for (const want of s.marker.expect) {
      if (!stdout.includes(want)) problems.push(`${where}: expected a line "${want}" on stdout, got: ${JSON.stringify(r.stdout)}`);
    }
  }
  return problems;
}

/** A port nothing listens on now (the kernel's pick), for a run snippet's server. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Type-checks and (unless run is false) runs the docs' snippets, or the ones given; returns the
 * counts by marker and the problems.
 */
export async function checkDocSnippets({ run = true, snippets = collectSnippets() } = {}) {
  const dir = scratchApp();
  try {
    const problems = [...(await typecheckSnippets(snippets, dir)), ...(run ? await runSnippets(snippets, dir) : [])];
    const count = (k) => snippets.filter((s) => s.marker.kind === k).length;
    const counts = { total: snippets.length, module: count('module'), fragment: count('fragment'), run: count('run'), copy: count('copy'), skip: count('skip') };
    return { counts, problems, skipped: snippets.filter((s) => s.marker.kind === 'skip').map((s) => `${s.file}:${s.line}: ${s.marker.reason}`) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { counts, problems, skipped } = await checkDocSnippets({ run: !process.argv.includes('--no-run') });
  console.log(`doc snippets: ${JSON.stringify(counts)}`);
  for (const s of skipped) console.log(`skipped ${s}`);
  for (const p of problems) console.log(p);
  if (problems.length) {
    console.log(`${problems.length} problem(s)`);
    process.exitCode = 1;
  }
}
