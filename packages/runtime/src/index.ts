// @skein/runtime: the `Runtime` (core's contract) of whatever runs the program, so that one
// import works unchanged on Node, Bun and Deno: `import { runtime } from '@skein/runtime'`.
//
// The types every entry shares. Which file loads is decided by the package's `exports`
// conditions: `bun` → bun.js, `deno` → deno.js, anything else → node.js. Bun and Deno also
// match `node`, so their conditions come first.
import type { Runtime } from '@skein/core';

export declare const runtime: Runtime;
