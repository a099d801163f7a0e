// The server-rendered HTMX pages at / and below (never under /api), with their vendored assets.
// Every page form post must come from a page of this server or an allowed origin (exact match,
// after parsing), whether htmx sent it or a plain form did: a second line behind the CSRF token.
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../../errors/http-error.js';
import { sameOriginOrAllowed } from '../../plugins/htmx-origin.js';
import { PAGE_ASSETS } from '../../pages/assets/index.js';
import { registerAssets } from '../static-assets.js';
import { accountPages } from './account.js';
import { adminPages } from './admin.js';
import { apiKeyPages } from './api-keys.js';
import { authPages } from './auth.js';
import type { PageRouteOptions } from './context.js';
import { mfaPages } from './mfa.js';
import { passwordResetPages } from './password-reset.js';

export type { PageRouteOptions } from './context.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const pageRoutes: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { config } = options.services;
  // '*' relaxes CORS in development only; it never vouches for a form post.
  const allowed = new Set([config.publicUrl, ...config.allowedOrigins.filter((o) => o !== '*')]);

  // Hooks added here apply only to the routes of this plugin: the pages.
  app.addHook('onRequest', (request, _reply, done) => {
    if (SAFE.has(request.method)) return done();
    // OWASP CSRF Cheat Sheet, "Verifying origin with standard headers": browsers send Origin on every form post.
    if (!sameOriginOrAllowed(request, allowed, !config.publicUrlSet)) return done(new HttpError('ORIGIN_REJECTED'));
    done();
  });

  registerAssets(app, PAGE_ASSETS);
  await app.register(authPages, options);
  await app.register(passwordResetPages, options);
  await app.register(accountPages, options);
  await app.register(apiKeyPages, options);
  await app.register(mfaPages, options);
  await app.register(adminPages, options);
};
