// Each route accepts only the body types it declares (`config.consumes`, default JSON); anything
// else is 415 before the body is read (a request without a body has nothing to refuse). Without this a JSON route would also accept the form
// bodies the OAuth2 token endpoint needs, since parsers are registered for the whole app.
import { isUtf8 } from 'node:buffer';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors/http-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types this route's body may have; default `['application/json']`. */
    consumes?: readonly string[];
  }
}

export const JSON_ONLY = ['application/json'] as const;
export const FORM_ONLY = ['application/x-www-form-urlencoded'] as const;

/** A structured-syntax `+json` media type (RFC 6839 §3.1). */
const JSON_SUFFIX = /^application\/[a-z0-9!#$&^_.-]+\+json(?:\s*;|$)/i;

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export const contentTypes = fp(
  async (app) => {
    // No body is no body, whatever Content-Type says: fetch wrappers send "application/json" on a
    // bodiless POST (logout), and FastAPI takes it. A route that needs a body still gets its 422.
    const json = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    const parseJson = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
      const bytes = body as Buffer;
      if (bytes.length === 0) return done(null, undefined);
      // RFC 8259 §8.1: JSON is UTF-8. Decoding bad bytes would quietly store U+FFFD in their place:
      // refuse them like any other body that is not JSON (422 json_invalid, as FastAPI answers).
      if (!isUtf8(bytes)) return done(Object.assign(new Error('invalid UTF-8'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
      json(request, bytes.toString('utf8'), done);
    };
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
    // `application/merge-patch+json`, `application/vnd.api+json`…: JSON by their suffix (RFC 6839), as FastAPI reads them.
    app.addContentTypeParser(JSON_SUFFIX, { parseAs: 'buffer' }, parseJson);
    app.addHook('onRequest', (request, _reply, done) => {
      const method = request.method;
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || request.is404) return done();
      const type = request.headers['content-type'];
      if (!hasBody(request.headers)) return done();
      // No content coding is decoded here (RFC 9110 §8.4.1: refuse with 415 what cannot be read):
      // a gzip body read as if it were plain would be garbage, or a filter's blind spot.
      const coding = request.headers['content-encoding'];
      if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') return done(new HttpError('UNSUPPORTED_MEDIA_TYPE'));
      const declared = type?.split(';')[0]?.trim().toLowerCase();
      const media = declared !== undefined && JSON_SUFFIX.test(declared) ? 'application/json' : declared;
      const accepted = request.routeOptions.config?.consumes ?? JSON_ONLY;
      if (media === undefined || !accepted.includes(media)) return done(new HttpError('UNSUPPORTED_MEDIA_TYPE'));
      // A declared length over the limit is 413 at once, for every body type (parsers that stream,
      // such as multipart's, would otherwise read it all before anything refused it).
      const length = Number(request.headers['content-length']);
      if (length > (request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit)) return done(new HttpError('PAYLOAD_TOO_LARGE'));
      done();
    });
  },
  { name: 'gatehouse-content-types', fastify: '5.x' },
);
