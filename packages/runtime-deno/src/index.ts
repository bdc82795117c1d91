export { denoRuntime } from './runtime.js';
