export { bunRuntime } from './bun-runtime.js';
