// X-Request-ID: echo a well-formed incoming id, otherwise mint one; put it on every response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Pass as Fastify's `genReqId` (with `requestIdHeader: false`) so logs and responses share the id. */
export function requestIdFrom(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && WELL_FORMED.test(incoming) ? incoming : randomUUID();
}

export const requestId = fp(
  async (app) => {
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      done();
    });
  },
  { name: 'gatehouse-request-id', fastify: '5.x' },
);
