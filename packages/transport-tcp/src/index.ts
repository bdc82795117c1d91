export { tcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
