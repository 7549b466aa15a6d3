import { type AddressInfo, createServer, type Server } from 'node:net';

/**
 * How a receiver binds its port.
 * - `exclusive`: a plain bind; the port is refused (EADDRINUSE) while anyone holds it.
 * - `shared`: refused the same way while anyone holds it, then bound with SO_REUSEPORT, so a
 *   successor process can bind it beside this one and take the connections before this one lets go.
 * - `take-over`: bound with SO_REUSEPORT beside a predecessor that bound it `shared`; the kernel
 *   spreads new connections over both until the predecessor closes its listener.
 */
export type PortSharing = 'exclusive' | 'shared' | 'take-over';

const listenOnce = (server: Server, options: { port: number; host: string; reusePort?: boolean }): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });

/** Binds `server` (any net.Server: node:http's, or the one in front of the gRPC server) as `sharing` says; resolves with the port. */
export async function listenOn(server: Server, port: number, host: string, sharing: PortSharing = 'exclusive'): Promise<number> {
  if (sharing === 'exclusive') return listenOnce(server, { port, host });
  if (sharing === 'shared' && port !== 0) {
    // SO_REUSEPORT would let this bind beside an unrelated process that also set it (another
    // Burnrate on another data directory) and split its traffic; a plain bind first refuses that.
    const probe = createServer();
    await listenOnce(probe, { port, host });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
  return listenOnce(server, { port, host, reusePort: true });
}
