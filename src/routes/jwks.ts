// GET /.well-known/jwks.json: the public keys that verify Gatehouse access tokens (EdDSA/ES256;
// an empty set with HS256, whose key is the shared secret and is never published).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteOptions } from './auth/tokens.js';

export const jwksRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.get('/.well-known/jwks.json', {
    schema: { tags: ['ops'], summary: 'Public keys for verifying access tokens' },
    // Public data that changes only on rotation; a short cache spares resource servers a round trip.
    config: { cacheControl: 'public, max-age=300' },
  }, async () => services.keyRing.jwks());
};
