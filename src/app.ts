// buildApp(config): every plugin and route of Gatehouse on one Fastify instance. Never listens.
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { ConfigError, type Config } from './config/index.js';
import { HttpError } from './errors/http-error.js';
import { lazyChildLogger } from './logging/lazy-child.js';
import { loggerOptions, stdoutLog } from './logging/logger.js';
import { clientAddress } from './plugins/client-address.js';
import { contentTypes } from './plugins/content-types.js';
import { cors } from './plugins/cors.js';
import { closeWhileDraining } from './plugins/close-while-draining.js';
import { clientErrorHandler, errors, sendError } from './plugins/errors.js';
import { stampArrival } from './arrival-order.js';
import { httpsOnly } from './plugins/https-only.js';
import { openapi } from './plugins/openapi.js';
import { requestId, requestIdFrom } from './plugins/request-id.js';
import { COMPLETED, completedLine, requestLog } from './plugins/request-log.js';
import { securityHeaders } from './plugins/security-headers.js';
import { installValidators } from './plugins/validation.js';
import { closeRedis, connectRedis, rateLimitGroups, redisReady, refusedRedisDatabase, waitForRedis, type RedisConnections } from './limits/shared-state.js';
import cookie from '@fastify/cookie';
import { authGuard, firstOf } from './plugins/auth-guard.js';
import { htmxOrigin } from './plugins/htmx-origin.js';
import { cookieNames, type SessionCookieSettings } from './plugins/session-cookies.js';
import { loginRoutes } from './routes/auth/login.js';
import { rateLimit } from './plugins/rate-limit.js';
import { externalBearerAuthenticator } from './plugins/external-bearer.js';
import { createFederation } from './federation/index.js';
import { bearerAuthenticator, cookieAuthenticator } from './plugins/credentials.js';
import { apiKeyAuthenticator, refuseBearerWithApiKey } from './plugins/api-key-auth.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { mfaRoutes } from './routes/auth/mfa.js';
import { passwordResetRoutes } from './routes/auth/password-reset.js';
import { adminAuditRoutes } from './routes/admin/audit.js';
import { adminUserRoutes } from './routes/admin/users.js';
import { registerRoutes } from './routes/auth/register.js';
import { sessionRoutes } from './routes/auth/sessions.js';
import { tokenRoutes } from './routes/auth/tokens.js';
import { docsRoutes } from './routes/docs.js';
import { pageRoutes } from './routes/pages/index.js';
import { API_PREFIX, browserPageRequest, renderErrorPage } from './pages/error-page.js';
import { jwksRoutes } from './routes/jwks.js';
import { opsRoutes } from './routes/ops.js';
import { userRoutes } from './routes/users.js';
import { createServices, type Services } from './services/index.js';
import { scopesAfterRoleChange } from './services/scopes.js';
import { classifyDatabaseError, openStorage, type Storage } from './storage/index.js';
import { VERSION } from './version.js';

export interface AppDependencies {
  /** Opened from `config.databaseUrl` (and closed with the app) when not given. */
  readonly storage?: Storage;
  readonly clock?: Clock;
  /** Where log lines go (default stdout); tests pass a stream to read them. */
  readonly logStream?: DestinationStream;
  /** Replaces parts of the service graph (tests pass e.g. a cheaper password hasher). */
  readonly services?: Partial<Pick<Parameters<typeof createServices>[0], 'hasher' | 'revocations' | 'throttle'>>;
  /** Redis connections for shared state; connected from `config.redisUrl` (and closed with the app) when not given. */
  readonly redis?: RedisConnections;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The use cases behind the routes (for CLIs, tests and embedding apps). */
    readonly gatehouse: Services;
  }
}

export type GatehouseApp = FastifyInstance;

export async function buildApp(config: Config, deps: AppDependencies = {}): Promise<GatehouseApp> {
  const clock = deps.clock ?? systemClock;
  const app = Fastify({
    logger: { ...loggerOptions(config.logLevel), stream: deps.logStream ?? stdoutLog() },
    genReqId: requestIdFrom,
    childLoggerFactory: lazyChildLogger,
    requestIdHeader: false,
    // One line per request, written by the request-log plugin instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    trustProxy: false,
    forceCloseConnections: 'idle',
    // Requests arriving on open connections while closing are served (plugins/close-while-draining.ts).
    return503OnClosing: false,
    requestTimeout: 30_000,
    // The errors plugin answers a missing Host with its own 400 (and every contract header).
    http: { requireHostHeader: false },
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, maxParamLength: 200 },
    // Requests Node's parser refuses (oversized headers, broken framing): our body and headers too.
    clientErrorHandler,
    // Malformed URLs and the like: our body, not the framework's.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      // A path parameter longer than any id (maxParamLength) names nothing that exists: 404, like an unknown id.
      const mapped = (error as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH' ? new HttpError('NOT_FOUND') : new HttpError('BAD_REQUEST');
      sendError(reply, request, error instanceof HttpError ? error : mapped, {});
      // Refused before routing, so no onResponse hook writes its line: the one line per request, here.
      request.log.info(completedLine(request, reply), COMPLETED);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // An `Expect` other than 100-continue: Node would answer a bare 417 itself; routed instead, the
  // errors plugin answers it with the contract's headers.
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  installValidators(app);
  const ownsStorage = deps.storage === undefined;
  const storage = deps.storage ?? (await openStorage(config.databaseUrl, { onBackgroundError: (err) => app.log.warn({ err: err.message }, 'database connection error') }));
  if (ownsStorage) app.addHook('onClose', () => storage.close());

  // Stamped first, on the app's clock: a refresh that arrived before a rotation is concurrent, not a replay.
  app.addHook('onRequest', (request, _reply, done) => {
    request.receivedAt = clock.now();
    request.arrival = stampArrival();
    done();
  });
  // A database outage anywhere below a route becomes a 503, whichever repository noticed it.
  await app.register(errors, { classify: classifyDatabaseError, renderPage: renderErrorPage, unroutedIsPage: browserPageRequest });
  await app.register(requestId);
  await app.register(requestLog);
  await app.register(clientAddress, { trustProxy: config.trustProxy });
  await app.register(securityHeaders, { hsts: config.isProduction });
  await app.register(closeWhileDraining);
  if (config.isProduction) await app.register(httpsOnly, { apiPrefix: API_PREFIX, ...(config.publicUrlSet ? { publicOrigin: config.publicUrl } : {}) });
  const redis = deps.redis ?? (config.redisUrl ? connectRedis(config.redisUrl, (err) => app.log.warn({ err: err.message }, 'redis connection error')) : undefined);
  if (redis && !deps.redis) app.addHook('onClose', () => closeRedis(redis));
  // Start even if Redis is down (degraded, /readyz says so), but give a starting Redis a moment.
  if (redis && !(await waitForRedis(redis, 2000))) {
    // A Redis that answers but has no such database is a wrong REDIS_URL, not an outage to wait out.
    const refusal = refusedRedisDatabase(redis);
    if (refusal) {
      if (!deps.redis) await closeRedis(redis);
      throw new ConfigError([`REDIS_URL: that Redis server has no database by this number ("${refusal}"); choose one below its "databases" setting`]);
    }
    app.log.warn('redis is not answering yet; shared limits fail closed until it does');
  }
  await app.register(cors, { allowedOrigins: config.allowedOrigins });
  await app.register(rateLimit, { groups: rateLimitGroups(config, redis, config.redisKeyPrefix) });
  await app.register(contentTypes);
  await app.register(formbody, { bodyLimit: config.maxBodyBytes });
  await app.register(openapi, { version: VERSION, tokenUrl: '/api/v1/auth/token', apiPrefix: API_PREFIX, httpsOnly: config.isProduction });

  const services = await createServices({ config, storage, clock, log: app.log, redis, ...deps.services });
  app.decorate('gatehouse', services);
  app.addHook('onClose', () => services.close());
  await app.register(cookie);
  const cookies: SessionCookieSettings = { names: cookieNames(config.isProduction), secure: config.isProduction };
  const verified = { tokens: services.tokens, revocations: services.revocations, scopesAfterRoleChange };
  // Order matters: explicit credentials (a bearer token) win over the ambient browser cookie.
  // External issuers' tokens first: it passes on (null) every token whose iss is not one of them.
  const federation = createFederation({ issuers: config.externalIssuers, storage, now: () => clock.now(), log: app.log });
  const authenticators = [
    refuseBearerWithApiKey(),
    externalBearerAuthenticator({ federation }),
    bearerAuthenticator(verified),
    // An API key is an explicit credential too: before the ambient cookie.
    apiKeyAuthenticator({ apiKeys: services.apiKeys }),
    cookieAuthenticator({ ...verified, cookieName: cookies.names.access, csrfCookieName: cookies.names.csrf, csrfKey: services.derivedKeys.csrf }),
  ];
  await app.register(authGuard, { authenticate: firstOf(...authenticators) });
  await app.register(htmxOrigin, { allowedOrigins: config.allowedOrigins, ownOrigin: config.publicUrl, hostIsOwnOrigin: !config.publicUrlSet });

  await app.register(async (api) => {
    await api.register(registerRoutes, { services });
    await api.register(tokenRoutes, { services, cookies });
    await api.register(loginRoutes, { services, cookies });
    await api.register(sessionRoutes, { services, cookies });
    await api.register(userRoutes, { services });
    await api.register(adminUserRoutes, { services });
    await api.register(adminAuditRoutes, { services });
    await api.register(apiKeyRoutes, { services });
    await api.register(mfaRoutes, { services });
    await api.register(passwordResetRoutes, { services });
  }, { prefix: '/api/v1' });
  await app.register(jwksRoutes, { services });

  await app.register(opsRoutes, {
    readiness: [
      { name: 'database', check: () => storage.ping(1500) },
      ...(redis ? [{ name: 'redis', check: () => redisReady(redis) }] : []),
    ],
  });
  await app.register(docsRoutes);
  await app.register(pageRoutes, { services, cookies });

  return app;
}
