// The one error handler: catalogue errors, Fastify's own errors and unexpected faults become
// `{"detail": ...}`, the FastAPI-shaped 422 list, or a bare 500 with `request_id`. Unknown routes
// are 404 and a known path with another method is 405 (both before any authentication).
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError, ServiceUnavailableError } from '../errors/http-error.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { issuesFromAjv } from '../errors/validation.js';
import { baselineSecurityHeaders, ensureSecurityHeaders } from './security-headers.js';

export interface RenderedError {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Readonly<Record<string, string>>;
}

/** Errors Fastify raises while reading a request; each maps to a client status with our own words. */
const FASTIFY_CODES: Record<string, number> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 400,
  FST_ERR_CTP_INVALID_JSON_BODY: 422,
  FST_ERR_CTP_EMPTY_JSON_BODY: 422,
};
const DETAILS: Record<number, string> = { 413: 'Request body too large', 415: 'Unsupported Media Type' };

export function renderError(error: unknown, requestId: string): RenderedError {
  if (error instanceof HttpError) {
    const body: Record<string, unknown> = error.issues ? { detail: error.issues } : { detail: error.detail, ...error.extra };
    return { status: error.status, body, headers: error.headers };
  }
  const fe = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return { status: 422, body: { detail: issuesFromAjv(fe.validation as never, fe.validationContext) }, headers: {} };
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped === 422) {
    return { status: 422, body: { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] }, headers: {} };
  }
  const status = mapped ?? fe.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { detail: DETAILS[status] ?? STATUS_CODES[status] ?? 'Bad Request' }, headers: {} };
  }
  return { status: 500, body: { detail: 'Internal Server Error', request_id: requestId }, headers: {} };
}

export interface ErrorsOptions {
  /** Turns dependency faults (e.g. a database outage) into catalogue errors before rendering. */
  readonly classify?: (error: unknown) => unknown;
  /** Renders an HTML error page for routes with `config.page`; JSON otherwise. */
  readonly renderPage?: (status: number, detail: string, request: FastifyRequest, reply: FastifyReply) => string;
  /**
   * Whether a request that matched no route is a browser's page request, answered with the HTML
   * page too (a mistyped address opened in a tab); never for API paths.
   */
  readonly unroutedIsPage?: (request: FastifyRequest) => boolean;
}

const ROUTABLE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** `/api-keys/` matches `/api-keys/:id` with an empty id: no resource is named, so it is no route. */
function namesNothing(params: unknown): boolean {
  return typeof params === 'object' && params !== null && Object.values(params).some((v) => v === '');
}

function allowedMethods(app: FastifyInstance, url: string): string[] {
  const path = url.split('?')[0] ?? '/';
  return ROUTABLE_METHODS.filter((method) => {
    const route = app.findRoute({ method, url: path });
    return route !== null && !namesNothing(route.params);
  });
}

/**
 * The client hung up while its body was still being read: Node reports that as ECONNRESET
 * "aborted", the code a database connection's reset also has. Nothing failed here, and nobody is
 * left to answer: not an outage, and not a line that anyone could fill the log with as one.
 */
function clientHungUp(raw: unknown): boolean {
  const e = raw as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 'ECONNRESET' && e.message === 'aborted';
}

export function sendError(reply: FastifyReply, request: FastifyRequest, raw: unknown, options: ErrorsOptions): FastifyReply {
  if (clientHungUp(raw)) {
    request.log.info({ req: request }, 'request aborted by the client');
    return reply.code(400).send();
  }
  const error = options.classify ? options.classify(raw) : raw;
  const rendered = renderError(error, request.id);
  if (rendered.status >= 500 && !(error instanceof HttpError)) {
    request.log.error({ err: error }, 'unhandled error');
  } else if (error instanceof ServiceUnavailableError) {
    request.log.warn({ dependency: error.dependency, cause: String((error.cause as Error | undefined)?.message ?? error.cause ?? '') }, 'dependency unavailable');
  }
  ensureSecurityHeaders(reply);
  reply.code(rendered.status).headers(rendered.headers);
  // RFC 6750 §3: every 401 names the scheme, so clients know to send a bearer token.
  if (rendered.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer');
  if (rendered.status >= 500 && !(error instanceof HttpError)) reply.removeHeader('retry-after');
  const page = request.routeOptions.config?.page || (request.is404 && options.unroutedIsPage?.(request) === true);
  if (options.renderPage && page) {
    // A 422's detail is its list of issues (the FastAPI shape): a page says it in one sentence.
    const detail = typeof rendered.body.detail === 'string' ? rendered.body.detail : 'Part of the request is not valid';
    return reply.type('text/html; charset=utf-8').send(options.renderPage(rendered.status, detail, request, reply));
  }
  return reply.type('application/json; charset=utf-8').send(rendered.body);
}

function hostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count += 1;
  }
  return count;
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refused (headers over the size
 * limit, broken framing, a header timeout) never reach a route, so without this they get the
 * framework's own body and none of the contract headers. Written straight to the socket.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = error.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
  writeRawError(this, socket, code);
}

/** A catalogue error written straight to a socket no route will answer, with every contract header; then it closes. */
function writeRawError(app: FastifyInstance, socket: Socket, code: ErrorCode, extra: Record<string, string> = {}): void {
  const rendered = renderError(new HttpError(code), '');
  const body = JSON.stringify(rendered.body);
  const headers: Record<string, string> = {
    'x-request-id': randomUUID(),
    ...baselineSecurityHeaders(app),
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...extra,
    connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  if (socket.writable) socket.end(`HTTP/1.1 ${rendered.status} ${STATUS_CODES[rendered.status]}\r\n${head}\r\n${body}`);
  else socket.destroy();
}

/** Methods no route ever takes: TRACE echoes requests (cross-site tracing), TRACK is its IIS twin. Always 405. */
export function isNeverRouted(method: string): boolean {
  return method === 'TRACE' || method === 'TRACK';
}

export const errors = fp<ErrorsOptions>(
  async (app, options) => {
    const routingError = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const allowed = allowedMethods(app, request.url).filter((m) => m !== request.method);
      if (isNeverRouted(request.method) || allowed.length > 0) {
        if (allowed.length > 0) reply.header('allow', allowed.join(', '));
        return sendError(reply, request, new HttpError('METHOD_NOT_ALLOWED'), options);
      }
      return sendError(reply, request, new HttpError('NOT_FOUND'), options);
    };
    // CONNECT (a proxy tunnel) never reaches a route: Node hands it to a 'connect' listener, and
    // without one drops the connection unanswered. It is a method this server does not serve.
    // RFC 9110 §15.5.6: a 405 lists what is allowed; a tunnel target names no route, so every method routes take.
    app.server.on('connect', (_request: unknown, socket: Socket) => writeRawError(app, socket, 'METHOD_NOT_ALLOWED', { allow: ROUTABLE_METHODS.join(', ') }));
    app.setErrorHandler((error, request, reply) => sendError(reply, request, error, options));
    app.setNotFoundHandler(routingError);
    // A route matched with an empty path parameter names no resource: 404 (or 405) before the
    // route's own hooks — its authentication included (contract: routing errors come first) — and
    // after the app-wide ones, so the answer carries the request id and every contract header.
    const namedResource: onRequestHookHandler = (request, reply, done) => {
      if (!namesNothing(request.params)) return done();
      routingError(request, reply);
    };
    // Node answers these two itself with a bare response (no security headers, no request id) unless
    // told not to (app.ts): here they get the same error body and headers as any other, and before a
    // route's authentication (a request HTTP itself refuses is a 400/417 whatever its credentials).
    const malformed = (request: FastifyRequest): HttpError | undefined => {
      if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) return new HttpError('MISSING_HOST');
      // RFC 9112 §3.2: two Host lines are a 400 (Node keeps the first; a proxy before us may have read the other).
      if (hostLines(request.raw.rawHeaders) > 1) return new HttpError('DUPLICATE_HOST');
      const expect = request.headers.expect;
      return expect !== undefined && expect.toLowerCase() !== '100-continue' ? new HttpError('EXPECTATION_FAILED') : undefined;
    };
    const wellFormed: onRequestHookHandler = (request, reply, done) => {
      const refusal = malformed(request);
      if (refusal === undefined) return done();
      sendError(reply, request, refusal, options);
    };
    app.addHook('onRoute', (route) => {
      const own = route.onRequest === undefined ? [] : [route.onRequest].flat();
      route.onRequest = route.url.includes(':') ? [wellFormed, namedResource, ...own] : [wellFormed, ...own];
    });
    // Routing errors come before the body is read: a body sent to an unknown path or with the
    // wrong method is a 404/405, never a 413/415/422 about a body no route would have taken.
    app.addHook('preParsing', (request, reply, payload, done) => {
      const refusal = request.is404 ? malformed(request) : undefined;
      if (refusal !== undefined) return void sendError(reply, request, refusal, options);
      if (!request.is404) return done(null, payload);
      routingError(request, reply);
    });
  },
  { name: 'gatehouse-errors', fastify: '5.x' },
);
