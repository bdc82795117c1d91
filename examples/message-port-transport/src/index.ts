// A complete small Skein transport over MessagePorts: the worked example of docs/transports.md.
export { messagePortTransport } from './message-port-transport.js';
export { PortConn } from './port-conn.js';
