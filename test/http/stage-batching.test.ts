// The stage-batching plugin on its own, in a bare Fastify app over a real port: requests that reach
// the server together each pass the hooks before it, then each the rest; a skipped route runs
// straight through; a lone request is answered as before.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageBatching } from '../../src/plugins/stage-batching.js';

/**
 * Writes one GET per path, each on its own connection, all in one tick, once the server has
 * accepted every connection (so that one poll finds them all readable); resolves with the bodies.
 */
async function together(app: FastifyInstance, paths: readonly string[]): Promise<string[]> {
  const { port } = app.server.address() as AddressInfo;
  let accepted = 0;
  const allAccepted = new Promise<void>((resolve) => {
    const count = () => {
      if (++accepted < paths.length) return;
      app.server.off('connection', count);
      resolve();
    };
    app.server.on('connection', count);
  });
  const sockets = await Promise.all(paths.map(() => new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  })));
  await allAccepted;
  const replies = sockets.map((socket) => new Promise<string>((resolve, reject) => {
    let raw = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => { raw += chunk; });
    socket.once('error', reject);
    socket.once('end', () => resolve(raw.slice(raw.indexOf('\r\n\r\n') + 4)));
  }));
  sockets.forEach((socket, i) => socket.write(`GET ${paths[i]} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  return Promise.all(replies);
}

describe('stage batching', () => {
  let app: FastifyInstance;
  const events: string[] = [];
  beforeAll(async () => {
    app = Fastify();
    app.addHook('onRequest', (request, _reply, done) => {
      events.push(`hook ${request.url}`);
      done();
    });
    await app.register(stageBatching, { skip: (request) => request.url.startsWith('/probe') });
    for (const path of ['/a', '/b', '/c', '/probe1', '/probe2']) {
      app.get(path, async () => {
        events.push(`handler ${path}`);
        return path;
      });
    }
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app?.close());

  it('requests that arrive together pass the earlier hooks, all of them, before any handler runs', async () => {
    events.length = 0;
    expect(await together(app, ['/a', '/b', '/c'])).toEqual(['/a', '/b', '/c']);
    const firstHandler = events.findIndex((e) => e.startsWith('handler'));
    expect(events.slice(0, firstHandler).sort()).toEqual(['hook /a', 'hook /b', 'hook /c']);
    expect(events.slice(firstHandler).sort()).toEqual(['handler /a', 'handler /b', 'handler /c']);
  });

  it('a skipped route runs straight through: its handler follows its own hook', async () => {
    events.length = 0;
    expect(await together(app, ['/probe1', '/probe2'])).toEqual(['/probe1', '/probe2']);
    expect(events.indexOf('handler /probe1')).toBe(events.indexOf('hook /probe1') + 1);
    expect(events.indexOf('handler /probe2')).toBe(events.indexOf('hook /probe2') + 1);
  });

  it('a lone request is answered as before', async () => {
    const res = await app.inject({ method: 'GET', url: '/a' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('/a');
  });
});
