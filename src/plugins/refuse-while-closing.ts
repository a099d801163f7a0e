// While the app closes (SIGTERM's drain), a request that still arrives on an open connection is
// refused like any other error — 503 with the contract's headers, `X-Request-ID` and a
// `{"detail"}` body, then the connection closes — instead of Fastify's built-in 503
// (`return503OnClosing`), which answers before every hook: no security headers, no request id,
// and Fastify's own error shape. Register it after the headers and request-id plugins.
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';

export const refuseWhileClosing = fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
    app.addHook('onRequest', (_request, reply, done) => {
      if (!closing) return done();
      reply.header('connection', 'close');
      done(new HttpError('SHUTTING_DOWN', { headers: { 'retry-after': '1' } }));
    });
  },
  { name: 'gatehouse-refuse-while-closing', fastify: '5.x' },
);
