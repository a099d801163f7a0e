// The two-factor page: thin handlers over the MFA service behind /api/v1/auth/mfa/totp/*. The
// secret, its QR code and the recovery codes appear only in no-store responses, never in a URL.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../../errors/http-error.js';
import { FORM_ONLY } from '../../plugins/content-types.js';
import { html } from '../../pages/html.js';
import { enableForm, mfaPage, mfaPanel, setupPanel, type MfaState } from '../../pages/views/mfa.js';
import { otpauthQrSvg } from '../../services/mfa.js';
import { contextOf } from '../context.js';
import { Password } from '../schemas.js';
import { checkFormCsrf, isHtmx, requireViewer, sendPage, text, type PageRouteOptions, type Viewer } from './context.js';

const FORM_POST = { page: true, csrf: 'form', consumes: FORM_ONLY } as const;
const Token = Type.Optional(Type.String({ maxLength: 200 }));
const Code = Type.String({ minLength: 1, maxLength: 64 });

export const mfaPages: FastifyPluginAsync<PageRouteOptions> = async (app, options) => {
  const { services } = options;

  function showPanel(request: FastifyRequest, reply: FastifyReply, viewer: Viewer, status: number, state: Omit<MfaState, 'csrfToken'>) {
    const panel = mfaPanel({ csrfToken: viewer.csrfToken, ...state });
    return sendPage(request, reply, status, viewer, { title: 'Two-factor sign-in', active: 'mfa', main: mfaPage(panel), fragment: panel });
  }

  async function formViewer(request: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> {
    const viewer = await requireViewer(request, reply, options, '/account/mfa');
    if (viewer) checkFormCsrf(request, viewer, options);
    return viewer;
  }

  app.get('/account/mfa', { config: { page: true }, schema: { hide: true } }, async (request, reply) => {
    const viewer = await requireViewer(request, reply, options, request.url);
    if (!viewer) return reply;
    return showPanel(request, reply, viewer, 200, { enabled: viewer.user.mfaEnabled });
  });

  app.post('/account/mfa/setup', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: Type.Object({ csrf_token: Token }, { additionalProperties: false }) } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    const setup = await services.mfa.setup(viewer.user.id);
    const panel = setupPanel({ csrfToken: viewer.csrfToken, secret: setup.secret, qrSvg: await otpauthQrSvg(setup.otpauthUrl) });
    return sendPage(request, reply, 200, viewer, { title: 'Two-factor sign-in', active: 'mfa', main: mfaPage(panel), fragment: panel });
  });

  app.post('/account/mfa/enable', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: Type.Object({ code: Code, csrf_token: Token }, { additionalProperties: false }) } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    // A refused code keeps the QR code on the page: only the form is swapped (htmx), or the form alone is shown again.
    const refuse = (status: number, error: string) => {
      reply.header('hx-retarget', '#mfa-enable-form').header('hx-reswap', 'outerHTML');
      const form = enableForm({ csrfToken: viewer.csrfToken, error });
      return sendPage(request, reply, status, viewer, { title: 'Two-factor sign-in', main: mfaPage(html`<section id="mfa" class="card"><h2>Set up your authenticator</h2>${form}</section>`), fragment: form });
    };
    if (request.validationError) return refuse(422, 'Enter the code from your app.');
    let codes: string[];
    try {
      codes = await services.mfa.enable(viewer.user.id, text(request.body, 'code')!, contextOf(request));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      if (err.code !== 'INVALID_MFA_CODE') return showPanel(request, reply, viewer, err.status, { enabled: viewer.user.mfaEnabled, error: err.detail });
      return refuse(err.status, `${err.detail}. Check your phone's clock, and enter the code it shows now.`);
    }
    return showPanel(request, reply, viewer, 200, { enabled: true, notice: 'Two-factor sign-in is on.', recoveryCodes: codes });
  });

  app.post('/account/mfa/disable', { config: FORM_POST, attachValidation: true, schema: { hide: true, body: Type.Object({ password: Password, code: Code, csrf_token: Token }, { additionalProperties: false }) } }, async (request, reply) => {
    const viewer = await formViewer(request, reply);
    if (!viewer) return reply;
    if (request.validationError) return showPanel(request, reply, viewer, 422, { enabled: viewer.user.mfaEnabled, error: 'Enter your password and a code.' });
    try {
      await services.mfa.disable(viewer.user.id, text(request.body, 'password')!, text(request.body, 'code')!, contextOf(request));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      // One answer whichever was wrong (the service already words it so), and the lockout's 429 as it is.
      reply.headers(err.headers);
      return showPanel(request, reply, viewer, err.status, { enabled: viewer.user.mfaEnabled, error: err.detail });
    }
    return showPanel(request, reply, viewer, 200, { enabled: false, notice: 'Two-factor sign-in is off.' });
  });
};
