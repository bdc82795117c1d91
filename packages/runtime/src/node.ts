export { nodeRuntime as runtime } from '@skein/runtime-node';
