// multipart/form-data read as a form of text fields (what a browser's FormData sends, and what
// FastAPI's OAuth2PasswordRequestForm reads), for the routes of the context it is registered in.
// The body is buffered by Fastify first (`parseAs: 'buffer'`), so MAX_BODY_BYTES holds however it
// is framed (a chunked body too: a streaming parser reading the socket itself would not be bounded),
// then busboy splits it. Bodies here are small forms; 1 MiB at most is held.
import { Busboy, type BusboyHeaders, type BusboyInstance } from '@fastify/busboy';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError, invalid } from '../errors/http-error.js';

export interface MultipartFieldsOptions {
  /** At most this many fields (Starlette's default is 1000); more is a 400. */
  readonly maxFields?: number;
  /** A longer value is cut to this many bytes: give the route's schema a smaller maxLength, and it refuses it (422). */
  readonly maxFieldBytes?: number;
}

/** Names that would reach an object's prototype: ignored, as the urlencoded parser ignores them. */
const PROTOTYPE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/** A field named twice becomes a list, which a string schema then refuses (as a repeated urlencoded field). */
type Fields = Record<string, string | string[]>;

function malformed(): HttpError {
  // Starlette answers a body it cannot split with 400 "There was an error parsing the body".
  return new HttpError('BAD_REQUEST', { detail: 'There was an error parsing the body' });
}

export function parseMultipartFields(request: FastifyRequest, body: Buffer, options: Required<MultipartFieldsOptions>): Promise<Fields> {
  return new Promise((resolve, reject) => {
    let parser: BusboyInstance;
    try {
      // Throws at once for a content type without a boundary.
      parser = new Busboy({ headers: request.headers as BusboyHeaders, limits: { fields: options.maxFields, fieldSize: options.maxFieldBytes, files: options.maxFields, fieldNameSize: 100, headerPairs: 20 } });
    } catch {
      return reject(malformed());
    }
    const fields: Fields = Object.create(null) as Fields;
    let failure: HttpError | undefined;
    parser.on('field', (name: string, value: string) => {
      if (PROTOTYPE_NAMES.has(name)) return;
      const seen = fields[name];
      fields[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    });
    // A file is no text field: FastAPI's form would see an UploadFile where it wants a string.
    parser.on('file', (name: string, stream: NodeJS.ReadableStream) => {
      stream.resume();
      failure ??= invalid(['body', name], 'Input should be a valid string', 'string_type');
    });
    parser.on('fieldsLimit', () => {
      failure ??= new HttpError('BAD_REQUEST', { detail: `Too many fields. Maximum number of fields is ${options.maxFields}.` });
    });
    parser.on('error', () => reject(failure ?? malformed()));
    parser.on('finish', () => (failure ? reject(failure) : resolve(fields)));
    parser.end(body);
  });
}

export const multipartFields = fp<MultipartFieldsOptions>(async (app, options) => {
  const settings = { maxFields: options.maxFields ?? 1000, maxFieldBytes: options.maxFieldBytes ?? 64 * 1024 };
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, body, done) => {
    parseMultipartFields(request, body as Buffer, settings).then((fields) => done(null, fields), (err: Error) => done(err));
  });
}, { name: 'gatehouse-multipart-fields', fastify: '5.x' });
