// The OpenAPI 3 document, generated from the same TypeBox schemas that validate requests, with
// the three ways to authenticate: the OAuth2 password flow, a bearer JWT, and an API key.
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface OpenApiOptions {
  readonly version: string;
  readonly tokenUrl: string;
}

const DETAIL = { type: 'object', properties: { detail: { type: 'string' } }, required: ['detail'] };
const BODY_ERRORS = {
  413: { description: 'Request body too large (MAX_BODY_BYTES)', ...DETAIL },
  415: { description: 'Unsupported Media Type', ...DETAIL },
};

export const openapi = fp<OpenApiOptions>(
  async (app: FastifyInstance, options) => {
    await app.register(fastifySwagger, {
      // Every operation gets an id, as FastAPI's have (client generators name their functions by it):
      // the route's own `operationId`, else its method and path, e.g. `post_api_v1_auth_token`.
      transform: ({ schema, url, route }) => {
        const method = [route.method].flat()[0]!.toLowerCase();
        const operationId = (schema as { operationId?: string } | undefined)?.operationId
          ?? `${method}_${url.replace(/[{}:]/g, '').replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
        // What the content-types plugin and the body limit answer every route that reads a body.
        const withBody = (schema as { body?: unknown } | undefined)?.body !== undefined;
        const response = (schema as { response?: Record<string, unknown> } | undefined)?.response;
        const documented = withBody && response ? { response: { ...BODY_ERRORS, ...response } } : {};
        return { schema: { ...schema, ...documented, operationId } as typeof schema, url };
      },
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Gatehouse',
          version: options.version,
          description: 'Authentication and API security: tokens, sessions, API keys, MFA.',
        },
        components: {
          securitySchemes: {
            OAuth2PasswordBearer: {
              type: 'oauth2',
              flows: {
                password: {
                  tokenUrl: options.tokenUrl,
                  refreshUrl: options.tokenUrl,
                  scopes: {
                    'profile:read': 'Read your profile',
                    'profile:write': 'Change your profile',
                    admin: 'Administer users (admins only)',
                  },
                },
              },
            },
            HTTPBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
            APIKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key' },
          },
        },
      },
    });
  },
  { name: 'gatehouse-openapi', fastify: '5.x' },
);
