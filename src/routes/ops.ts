// Operations endpoints: liveness, readiness (every dependency answers), nothing else.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../errors/http-error.js';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves true when the dependency answers; must settle within ~1.5 s. */
  readonly check: () => Promise<boolean>;
}

export interface OpsRoutesOptions {
  readonly readiness: readonly ReadinessCheck[];
}

const Status = Type.Object({ status: Type.String() });

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, options) => {
  app.get('/healthz', {
    schema: { hide: true, response: { 200: Status } },
    config: { allowPlainHttp: true, rateLimit: false },
    logLevel: 'warn',
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      hide: true,
      response: { 200: Status, 503: Type.Object({ detail: Type.String(), failing: Type.Array(Type.String()) }) },
    },
    config: { allowPlainHttp: true, rateLimit: false },
    logLevel: 'warn',
  }, async () => {
    const results = await Promise.all(options.readiness.map(async (r) => ({ name: r.name, ok: await r.check().catch(() => false) })));
    const failing = results.filter((r) => !r.ok).map((r) => r.name);
    if (failing.length > 0) throw new HttpError('SERVICE_UNAVAILABLE', { headers: { 'retry-after': '5' }, extra: { failing } });
    return { status: 'ok' };
  });
};
