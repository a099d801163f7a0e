// While the app closes (SIGTERM's drain), a request that still arrives on a connection opened before
// is served — the client sent it before the signal, as far as it can tell: it is in flight — and its
// answer says `Connection: close`, so the client takes its next request elsewhere and the drain ends.
// (Fastify's own `return503OnClosing` would refuse it before every hook: no security headers, no
// request id, Fastify's error shape.) New connections are not accepted once the drain begins.
import fp from 'fastify-plugin';

export const closeWhileDraining = fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
    app.addHook('onRequest', (_request, reply, done) => {
      if (closing) reply.header('connection', 'close');
      done();
    });
  },
  { name: 'gatehouse-close-while-draining', fastify: '5.x' },
);
