// One JSON line per finished request (instead of Fastify's two), redacted by the logger's serializers.
// Written through the root logger with the request id as a field: the same line a per-request child
// would write, without creating one for every request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { levelEnabledUnder } from '../logging/lazy-child.js';

/** The line's fields; its `req` is shaped and its URL redacted by the logger's serializers. */
export function completedLine(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  return { reqId: request.id, req: request, res: { statusCode: reply.statusCode }, ms: Math.round(reply.elapsedTime * 10) / 10 };
}

export const COMPLETED = 'request completed';

export const requestLog = fp(
  async (app) => {
    // This line's fields are built here from serializers that never carry a header or a body, and the
    // URL's credentials are already redacted (redactUrl); running pino's path redaction over it on
    // every request cost more than the rest of the line (docs/benchmarks.md), so this one logger skips it.
    const lines = app.log.child({}, { redact: [] } as never);
    app.addHook('onResponse', (request, reply, done) => {
      // A route's own logLevel (e.g. 'warn' on the health probes) silences its request lines too.
      if (levelEnabledUnder(app.log, 'info', request.routeOptions.logLevel)) {
        lines.info(completedLine(request, reply), COMPLETED);
      }
      done();
    });
  },
  { name: 'gatehouse-request-log', fastify: '5.x' },
);
