// One JSON line per finished request (instead of Fastify's two), redacted by the logger's serializers.
// Written through the root logger with the request id as a field: the same line a per-request child
// would write, without creating one for every request.
import fp from 'fastify-plugin';
import { levelEnabled } from '../logging/lazy-child.js';

export const requestLog = fp(
  async (app) => {
    app.addHook('onResponse', (request, reply, done) => {
      if (levelEnabled(app.log, 'info')) {
        app.log.info({ reqId: request.id, req: request, res: { statusCode: reply.statusCode }, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request completed');
      }
      done();
    });
  },
  { name: 'gatehouse-request-log', fastify: '5.x' },
);
