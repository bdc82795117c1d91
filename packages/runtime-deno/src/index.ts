export { denoRuntime } from './deno-runtime.js';
