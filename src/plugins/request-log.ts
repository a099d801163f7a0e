// One JSON line per finished request (instead of Fastify's two), redacted by the logger's serializers.
import fp from 'fastify-plugin';

export const requestLog = fp(
  async (app) => {
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info({ req: request, res: { statusCode: reply.statusCode }, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request completed');
      done();
    });
  },
  { name: 'gatehouse-request-log', fastify: '5.x' },
);
