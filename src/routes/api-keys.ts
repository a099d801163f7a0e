// /api/v1/api-keys: create (the key is shown this once, no-store), list (no secrets), revoke.
// Only a signed-in owner manages keys: an API key can never create, list or delete API keys.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestAsyncHookHandler } from 'fastify';
import { Type, type Static } from 'typebox';
import { HttpError } from '../errors/http-error.js';
import { SCOPES } from '../services/scopes.js';
import type { ApiKey } from '../storage/index.js';
import { contextOf } from './context.js';
import { AUTH_ERRORS, BEARER, Detail, IdParams, NoFields, absentBodyAsEmpty } from './schemas.js';
import type { RouteOptions } from './auth/tokens.js';

/** For routes an API key must never reach (contract: keys, password, MFA); after requireUser. */
export const rejectApiKeys: onRequestAsyncHookHandler = async (request) => {
  if (request.principal.via === 'api-key') throw new HttpError('API_KEY_FORBIDDEN');
};

const NewKey = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  // One of the three (documented as such); one beyond the owner's role is the service's 422 on the item.
  scopes: Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), { minItems: 1, maxItems: 10 }),
  expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
}, { additionalProperties: false });

const Time = Type.String({ format: 'date-time' });
const KeyOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The public start of the key, shown to tell keys apart' }),
  scopes: Type.Array(Type.String()),
  created_at: Time,
  expires_at: Type.Union([Time, Type.Null()]),
  last_used_at: Type.Union([Time, Type.Null()]),
});
const CreatedKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  key: Type.String({ description: 'The whole key: shown this once, stored only as a hash' }),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  expires_at: Type.Union([Time, Type.Null()]),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function keyJson(k: ApiKey): Static<typeof KeyOut> {
  return {
    id: k.id, name: k.name, prefix: k.prefix, scopes: [...k.scopes],
    created_at: iso(k.createdAt)!, expires_at: iso(k.expiresAt), last_used_at: iso(k.lastUsedAt),
  };
}

export const apiKeyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services }) => {
  app.post('/api-keys', {
    onRequest: [app.requireUser, rejectApiKeys, app.requireScopes('profile:write')],
    schema: {
      tags: ['api-keys'], summary: 'Create an API key (the key is shown once)', security: BEARER,
      body: NewKey, response: { 201: CreatedKey, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    const { name, scopes, expires_in_days } = request.body;
    const { apiKey, key } = await services.apiKeys.create(
      { userId: request.principal.userId, scopes: request.principal.scopes },
      { name, scopes, expiresInDays: expires_in_days }, contextOf(request),
    );
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return reply.code(201).send({
      id: apiKey.id, name: apiKey.name, key, prefix: apiKey.prefix, scopes: [...apiKey.scopes], expires_at: iso(apiKey.expiresAt),
    });
  });

  app.get('/api-keys', {
    onRequest: [app.requireUser, rejectApiKeys, app.requireScopes('profile:read')],
    schema: { tags: ['api-keys'], summary: 'Your API keys (never their secrets)', security: BEARER, response: { 200: Type.Array(KeyOut), ...AUTH_ERRORS } },
  }, async (request) => (await services.apiKeys.list(request.principal.userId)).map(keyJson));

  app.delete('/api-keys/:id', {
    onRequest: [app.requireUser, rejectApiKeys, app.requireScopes('profile:write')],
    preValidation: absentBodyAsEmpty,
    schema: {
      tags: ['api-keys'], summary: 'Revoke an API key (it stops working at once)', security: BEARER,
      params: IdParams, body: NoFields,
      response: { 204: Type.Null({ description: 'No Content' }), 404: Detail, ...AUTH_ERRORS },
    },
  }, async (request, reply) => {
    await services.apiKeys.revoke(request.principal.userId, request.params.id, contextOf(request));
    return reply.code(204).send(null);
  });
};
