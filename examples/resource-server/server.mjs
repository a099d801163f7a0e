// A resource server that trusts Gatehouse: it verifies Gatehouse access tokens against Gatehouse's
// /.well-known/jwks.json (JWT_ALGORITHM=EdDSA or ES256) and guards its routes with the same
// requireUser / requireRoles / requireScopes as Gatehouse, with Gatehouse's hardening plugins.
//
//   GATEHOUSE_URL=http://127.0.0.1:8000 PORT=8100 node examples/resource-server/server.mjs
//
// Imports go through the package's exports (`gatehouse/...`), exactly as in an app that installed it.
import Fastify from 'fastify';
import { errors } from 'gatehouse/errors';
import { requestId, requestIdFrom } from 'gatehouse/request-id';
import { securityHeaders } from 'gatehouse/security-headers';
import { gatehouseVerify } from 'gatehouse/verify';

/** Builds the app (never listens), so a test or another process can drive it. */
export async function buildResourceServer({ gatehouseUrl, logger = false }) {
  const app = Fastify({ logger, genReqId: requestIdFrom, requestIdHeader: false });
  await app.register(errors);
  await app.register(requestId);
  await app.register(securityHeaders, { hsts: false });
  // GATEHOUSE_ISSUER: only when Gatehouse runs without PUBLIC_URL (its tokens then say iss "gatehouse").
  await app.register(gatehouseVerify, { gatehouseUrl, ...(process.env.GATEHOUSE_ISSUER ? { issuer: process.env.GATEHOUSE_ISSUER } : {}) });

  app.get('/public', async () => ({ hello: 'anyone' }));

  // Any signed-in Gatehouse user whose token may read profiles.
  app.get('/notes', { onRequest: [app.requireUser, app.requireScopes('profile:read')] }, async (request) => ({
    user_id: request.principal.userId,
    notes: [`a note for user ${request.principal.userId}`],
  }));

  // Admins only, with a token that holds the admin scope.
  app.get('/reports', { onRequest: [app.requireRoles('admin'), app.requireScopes('admin')] }, async (request) => ({
    generated_for: request.principal.userId,
  }));

  return app;
}

async function main() {
  const gatehouseUrl = process.env.GATEHOUSE_URL;
  if (!gatehouseUrl) {
    process.stderr.write('GATEHOUSE_URL must be set (Gatehouse\'s PUBLIC_URL, e.g. http://127.0.0.1:8000)\n');
    process.exit(1);
  }
  const app = await buildResourceServer({ gatehouseUrl, logger: { level: process.env.LOG_LEVEL ?? 'info' } });
  const url = await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8100) });
  app.log.info({ url }, 'resource server listening');
  const stop = () => app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
