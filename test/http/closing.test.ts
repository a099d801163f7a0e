// SIGTERM's drain (app.close()) from the outside: a request that arrives on a connection still open
// while the server drains was in flight as far as its client knows: it is served, with the contract's
// headers and X-Request-ID, and its connection closes; the request already being read finishes too.
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.js';

function open(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk) => { data += chunk; });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

describe('a request arriving while the server drains', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await testApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t?.close());

  it('is served, with every contract header, and its connection closes', async () => {
    // A: a request in flight (its body not all sent), which keeps the drain waiting.
    const a = await open(port);
    const seen = new Promise((resolve) => t.app.server.once('request', resolve));
    a.socket.write('POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"email":');
    await seen;
    // B: a request whose head is not complete yet when the drain starts.
    const b = await open(port);
    b.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: drain-probe-1\r\n');
    const closing = t.app.close();
    // The listener stops after the close hooks ran: from then on the app is draining.
    while (t.app.server.listening) await new Promise((resolve) => setImmediate(resolve));
    b.socket.write('\r\n');
    await b.closed;
    const [head, body] = b.received().split('\r\n\r\n');
    const lines = head!.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 200 OK');
    const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    expect(headers).toMatchObject({
      'x-request-id': 'drain-probe-1', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'content-type': 'application/json; charset=utf-8',
      connection: 'close',
    });
    expect(JSON.parse(body!)).toEqual({ status: 'ok' });
    // A still finishes (a 422 for its truncated JSON), then the app is closed.
    a.socket.end('"x"}        ');
    await a.closed;
    expect(a.received()).toMatch(/^HTTP\/1\.1 4\d\d /);
    await closing;
  });
});
