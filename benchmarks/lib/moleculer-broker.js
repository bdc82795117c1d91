import { ServiceBroker } from 'moleculer';

/**
 * A moleculer broker on the TCP transporter with static URLs only: no UDP multicast, nothing
 * but the two nodes on 127.0.0.1. Each node finds its own port in `urls` by its nodeID.
 */
export function createBroker(nodeID, urls) {
  return new ServiceBroker({
    nodeID,
    logger: false,
    transporter: { type: 'TCP', options: { udpDiscovery: false, useHostname: false, urls } },
  });
}

export const moleculerUrls = (serverPort, clientPort) => [`127.0.0.1:${serverPort}/bench-server`, `127.0.0.1:${clientPort}/bench-client`];
