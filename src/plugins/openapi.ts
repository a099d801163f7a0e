// The OpenAPI 3 document, generated from the same TypeBox schemas that validate requests, with
// the three ways to authenticate: the OAuth2 password flow, a bearer JWT, and an API key.
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { scopesRequiredBy } from './auth-guard.js';

export interface OpenApiOptions {
  readonly version: string;
  readonly tokenUrl: string;
  /** Routes under this prefix are the API: rate-limited, and refused over plain HTTP with `httpsOnly`. */
  readonly apiPrefix?: string;
  /** Production: plain-HTTP API requests answer 400 "HTTPS required". */
  readonly httpsOnly?: boolean;
}

const DETAIL = { type: 'object', properties: { detail: { type: 'string' } }, required: ['detail'] };
const BODY_ERRORS = {
  413: { description: 'Request body too large (MAX_BODY_BYTES)', ...DETAIL },
  415: { description: 'Unsupported Media Type', ...DETAIL },
};
/** What any API route may answer besides its own: the rate limit, an outage, plain HTTP in production. */
const RATE_LIMITED = { description: 'Too many requests from this client (Retry-After and RateLimit-* say when to retry)', ...DETAIL };
const UNAVAILABLE = { description: 'A database or Redis this request needs is not answering', ...DETAIL };
const HTTPS_REQUIRED = { description: 'HTTPS required (production, a plain-HTTP request)', ...DETAIL };

type SecurityRequirement = Record<string, readonly string[]>;

/** The route's `security` with the scopes its requireScopes hooks demand listed on the OAuth2 scheme, as FastAPI lists them. */
function withScopes(security: unknown, onRequest: unknown): unknown {
  const scopes = [...new Set([onRequest].flat().flatMap((hook) => scopesRequiredBy(hook) ?? []))];
  if (!Array.isArray(security) || scopes.length === 0) return security;
  return (security as SecurityRequirement[]).map((requirement) => Object.fromEntries(Object.entries(requirement)
    .map(([scheme, listed]) => [scheme, scheme === 'OAuth2PasswordBearer' ? [...new Set([...listed, ...scopes])] : listed])));
}

/** A route that takes no body (`NoFields`): its JSON `{}` is optional, not a required request body. */
function takesNoBody(requestBody: { content?: Record<string, { schema?: { properties?: object; additionalProperties?: unknown } }> }): boolean {
  const schemas = Object.values(requestBody.content ?? {}).map((media) => media.schema);
  return schemas.length > 0 && schemas.every((schema) => schema?.additionalProperties === false && Object.keys(schema.properties ?? {}).length === 0);
}

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
        const underApi = options.apiPrefix !== undefined && url.startsWith(options.apiPrefix);
        const common = underApi ? {
          ...(route.config?.rateLimit === false ? {} : { 429: RATE_LIMITED }),
          503: UNAVAILABLE,
          ...(options.httpsOnly ? { 400: HTTPS_REQUIRED } : {}),
        } : {};
        // The route's own answers win over the common ones (its own 400, its own 429 wording).
        const documented = response ? { response: { ...common, ...(withBody ? BODY_ERRORS : {}), ...response } } : {};
        const security = withScopes((schema as { security?: unknown } | undefined)?.security, route.onRequest);
        return { schema: { ...schema, ...documented, ...(security ? { security } : {}), operationId } as typeof schema, url };
      },
      transformObject: (document) => {
        if (!('openapiObject' in document)) return document.swaggerObject;
        const { openapiObject } = document;
        for (const operations of Object.values(openapiObject.paths ?? {})) {
          for (const operation of Object.values(operations as Record<string, { requestBody?: { required?: boolean } }>)) {
            if (operation?.requestBody && takesNoBody(operation.requestBody as never)) operation.requestBody.required = false;
          }
        }
        return openapiObject;
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
