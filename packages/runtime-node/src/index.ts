export { nodeRuntime } from './runtime.js';
