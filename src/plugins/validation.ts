// Schema validation in two strengths: bodies are validated exactly (no coercion, unknown fields
// rejected rather than silently dropped: no mass assignment); query strings, params and headers
// are coerced from text, as they arrive as text.
import { Ajv, type Options } from 'ajv';
import formats from 'ajv-formats';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the function sits on either side.
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv) => Ajv;
import type { FastifyInstance } from 'fastify';

function ajv(options: Options): Ajv {
  const instance = new Ajv({ allErrors: true, strict: false, useDefaults: true, removeAdditional: false, ...options });
  addFormats(instance);
  return instance;
}

export function installValidators(app: FastifyInstance): void {
  const body = ajv({ coerceTypes: false });
  const text = ajv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}
