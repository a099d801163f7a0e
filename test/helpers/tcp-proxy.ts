// A real TCP proxy in front of a server (PostgreSQL) that a test can cut and restore, to make
// "the database goes away" happen to one app without stopping the server other test files share.
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * How the database goes away:
 * - `refuse`: the port stops listening and every open connection is reset (a crashed or restarted
 *   server, a closed firewall port answering RST): clients fail at once.
 * - `blackhole`: connections are still accepted but nothing goes through in either direction and
 *   nothing is ever answered (a partition, a dropping firewall): clients only find out by timing out.
 *   After `restore()` new connections get through; the ones black-holed meanwhile are either reset,
 *   as a server that has forgotten them answers their next segment with RST (RFC 9293 §3.10.7.1),
 *   or (`{ stale: 'hang' }`) stay silent for good, as behind a stateful firewall or NAT that has
 *   dropped their state and now discards their packets: the harder case for a connection pool.
 */
export type CutMode = 'refuse' | 'blackhole';

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  cut(mode: CutMode): Promise<void>;
  restore(options?: { stale?: 'reset' | 'hang' }): Promise<void>;
  /** Connections currently open through the proxy (forwarding or black-holed). */
  openConnections(): number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  dead: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let mode: CutMode | 'open' = 'open';
  let server: Server;
  let port = 0;

  function drop(pair: Pair): void {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  function blackhole(pair: Pair): void {
    pair.dead = true;
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.upstream?.destroy();
    pair.upstream = undefined;
    // Keep reading and discard, so the client's writes succeed and it waits for an answer forever.
    pair.client.removeAllListeners('data');
    pair.client.on('data', () => undefined);
    pair.client.resume();
  }

  function accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined, dead: false };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (mode === 'blackhole') {
      blackhole(pair);
      return;
    }
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair));
    upstream.on('close', () => {
      if (!pair.dead) drop(pair);
    });
    // Forward every write at once, as the clients behind the proxy do on their own sockets (ioredis and
    // pg set TCP_NODELAY): with Nagle on, a small write (a Redis pub/sub message) could wait for an ACK.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  function listen(onPort: number): Promise<void> {
    server = createServer(accept);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  function stopListening(): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
  }

  await listen(0);

  return {
    get port() {
      return port;
    },
    rewrite(url: string): string {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async cut(next: CutMode) {
      if (mode !== 'open') throw new TypeError(`proxy is already cut (${mode})`);
      mode = next;
      if (next === 'refuse') {
        const closed = stopListening();
        for (const pair of [...pairs]) {
          pairs.delete(pair);
          pair.upstream?.destroy();
          // RST, not FIN: what a client sees when the server's host drops the connection.
          pair.client.resetAndDestroy();
        }
        await closed;
      } else {
        for (const pair of pairs) blackhole(pair);
      }
    },
    async restore({ stale = 'reset' } = {}) {
      if (mode === 'refuse') await listen(port);
      if (mode === 'blackhole' && stale === 'reset') {
        for (const pair of [...pairs]) {
          if (!pair.dead) continue;
          pairs.delete(pair);
          pair.client.resetAndDestroy();
        }
      }
      mode = 'open';
    },
    openConnections: () => pairs.size,
    async close() {
      for (const pair of [...pairs]) drop(pair);
      if (server.listening) await stopListening();
    },
  };
}
