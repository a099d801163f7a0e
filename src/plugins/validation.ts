// Schema validation in two strengths: bodies are validated exactly (no coercion, unknown fields
// rejected rather than silently dropped: no mass assignment); query strings, params and headers
// are coerced from text, as they arrive as text (numbers written in decimal only). Either way a
// string holding U+0000 or half a character (a lone UTF-16 surrogate) is refused.
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyInstance, FastifySerializerCompiler, preHandlerHookHandler } from 'fastify';
import { withinEmailLengths } from '../email-address.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the function sits on either side.
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv) => Ajv;

function ajv(options: Options): Ajv {
  const instance = new Ajv({ allErrors: true, strict: false, useDefaults: true, removeAdditional: false, ...options });
  addFormats(instance);
  // ajv-formats checks an address's shape, not its lengths; FastAPI's EmailStr refuses both.
  const shape = instance.formats.email as RegExp;
  instance.addFormat('email', (value: string) => withinEmailLengths(value) && shape.test(value));
  return instance;
}

/** The keywords of the issues raised for text no store can keep; `errors/validation.ts` words them. */
export const NUL_KEYWORD = 'nulCharacter';
export const SURROGATE_KEYWORD = 'loneSurrogate';

interface Pending {
  readonly value: unknown;
  readonly parent: Pending | undefined;
  readonly key: string;
}

function pointer(item: Pending): string {
  const parts: string[] = [];
  for (let at: Pending | undefined = item; at?.parent; at = at.parent) parts.push(at.key.replace(/~/g, '~0').replace(/\//g, '~1'));
  return parts.length === 0 ? '' : '/' + parts.reverse().join('/');
}

/** A UTF-16 surrogate without its other half: JSON's "\ud800" parses to one, but it is no character. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as it is: NUL (PostgreSQL text refuses it) or a lone surrogate. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return NUL_KEYWORD;
  // SQLite and PostgreSQL both store UTF-8, which has no encoding for half a character: the
  // driver would silently turn it into U+FFFD, so what was stored is not what was sent.
  if (LONE_SURROGATE.test(text)) return SURROGATE_KEYWORD;
  return undefined;
}

/**
 * The first string (or key) no store can keep as it is — its JSON pointer and the keyword saying
 * why — or undefined. Letting NUL through would turn a client's input into a 500 on PostgreSQL
 * (C libraries and logs truncate at it too); a lone surrogate would be stored altered. Iterative
 * with parent links: a body nested 100 000 deep costs no stack.
 */
export function findUnstorableText(data: unknown): { readonly at: string; readonly keyword: string } | undefined {
  const stack: Pending[] = [{ value: data, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const { value } = item;
    if (typeof value === 'string') {
      const keyword = unstorable(value);
      if (keyword) return { at: pointer(item), keyword };
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], parent: item, key: String(i) });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const next = { value: child, parent: item, key };
        const keyword = unstorable(key);
        if (keyword) return { at: pointer(next), keyword };
        stack.push(next);
      }
    }
  }
  return undefined;
}

/**
 * Ajv's validator plus a rule of ours, which returns the issues to report (refusing the data) or
 * undefined. `before` sees the data as it arrived (Ajv's coercion changes it in place); `after`
 * sees it with Ajv's verdict, and may replace Ajv's issues.
 */
interface Rule {
  readonly before?: (data: unknown) => ErrorObject[] | undefined;
  readonly after?: (data: unknown, ok: boolean) => ErrorObject[] | undefined;
}

function withRule(validate: ValidateFunction, rule: Rule): ValidateFunction {
  const checked = function (this: unknown, data: unknown, context?: unknown) {
    const early = rule.before?.(data);
    if (early) {
      checked.errors = early;
      return false;
    }
    const ok = (validate as (this: unknown, d: unknown, c?: unknown) => boolean).call(this, data, context);
    const issues = rule.after?.(data, ok);
    checked.errors = issues ?? validate.errors;
    return issues === undefined ? ok : false;
  } as ValidateFunction;
  // Fastify passes parentData (so coercion may replace a root value) only to functions with schemaEnv.
  return Object.assign(checked, { schema: validate.schema, schemaEnv: validate.schemaEnv });
}

const issue = (keyword: string, instancePath: string, message: string, params: Record<string, unknown> = {}): ErrorObject =>
  ({ keyword, instancePath, schemaPath: '', params, message });

/** The storable-text rule (no NUL, no lone surrogate), once the schema itself is satisfied. */
function withTextCheck(validate: ValidateFunction): ValidateFunction {
  return withRule(validate, {
    after: (data, ok) => {
      const found = ok ? findUnstorableText(data) : undefined;
      return found === undefined ? undefined : [issue(found.keyword, found.at, 'must be storable text')];
    },
  });
}

/**
 * Compiles on first use. Compiling every route's schemas at start-up was about a third of the
 * start-up time (docs/benchmarks.md: start-up < 1 s); each route now pays a few milliseconds on
 * its first request instead. Every route is exercised by the test suite, so a schema that cannot
 * compile still fails there, not in production.
 */
function lazyValidator(compile: () => ValidateFunction): ValidateFunction {
  let real: ValidateFunction | undefined;
  const lazy = function (this: unknown, data: unknown, context?: unknown) {
    real ??= compile();
    const ok = (real as (this: unknown, d: unknown, c?: unknown) => boolean).call(this, data, context);
    lazy.errors = real.errors;
    return ok;
  } as ValidateFunction;
  // Fastify passes parentData (so coercion may replace a root value) only to functions with schemaEnv.
  return Object.assign(lazy, { schemaEnv: {} as ValidateFunction['schemaEnv'] });
}

/** The keyword of the issue raised for a body a route needs but the request did not send. */
export const MISSING_BODY_KEYWORD = 'missingBody';

/** No body (an empty one, or JSON `null`, as FastAPI reads it) where the schema wants one: FastAPI's `{"loc": ["body"], "type": "missing"}`. */
function withMissingBody(validate: ValidateFunction): ValidateFunction {
  return withRule(validate, {
    after: (data, ok) => (ok || (data !== undefined && data !== null) ? undefined : [issue(MISSING_BODY_KEYWORD, '', 'is required')]),
  });
}

/** How a number is written in a query string: decimal digits only (FastAPI refuses `0x2`, `0b1`, `2e0` for an int). */
const DECIMAL = { integer: /^\s*[+-]?\d+\s*$/, number: /^\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*$/ } as const;

/** The top-level properties of an object schema that are numbers, and how each must be written. */
function numericProperties(schema: unknown): [string, RegExp][] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  if (!properties) return [];
  return Object.entries(properties).flatMap(([name, property]) => {
    const type = property?.type;
    return type === 'integer' || type === 'number' ? [[name, DECIMAL[type]] as [string, RegExp]] : [];
  });
}

/**
 * Ajv coerces text to a number with JavaScript's `+value`, which reads `0x10`, `0b1` and `1e3` too:
 * for a text part, a number must be written in decimal before it is coerced, or it is a type error.
 */
function withDecimalNumbers(validate: ValidateFunction, schema: unknown): ValidateFunction {
  const numeric = numericProperties(schema);
  if (numeric.length === 0) return validate;
  const undecimal = (data: unknown): ErrorObject[] | undefined => {
    if (data === null || typeof data !== 'object') return undefined;
    for (const [name, shape] of numeric) {
      const raw = (data as Record<string, unknown>)[name];
      if ([raw].flat().some((text) => typeof text === 'string' && !shape.test(text))) {
        const type = shape === DECIMAL.integer ? 'integer' : 'number';
        return [issue('type', `/${name}`, `must be ${type}`, { type })];
      }
    }
    return undefined;
  };
  return withRule(validate, { before: undecimal });
}

/** Whether a property's schema takes `null` itself (`Type.Union([…, Type.Null()])`, `type: ['x', 'null']`). */
function acceptsNull(property: unknown): boolean {
  const p = property as { type?: unknown; anyOf?: unknown[]; oneOf?: unknown[] } | undefined;
  if (!p) return false;
  if (p.type === 'null' || (Array.isArray(p.type) && p.type.includes('null'))) return true;
  return [...(p.anyOf ?? []), ...(p.oneOf ?? [])].some(acceptsNull);
}

/**
 * pydantic reads `null` for an optional field (`otp: str | None = None`) as the field left out, and
 * clients serialising their models send it so: such a `null` is dropped before validation. A field
 * whose schema takes null itself (a `full_name` that null clears) keeps it; a required field's null
 * is still a type error; a field the schema does not know is still refused (no mass assignment).
 */
function withOptionalNulls(validate: ValidateFunction, schema: unknown): ValidateFunction {
  const s = schema as { type?: unknown; properties?: Record<string, unknown>; required?: string[] } | undefined;
  const droppable = Object.entries(s?.properties ?? {})
    .filter(([name, property]) => !(s?.required ?? []).includes(name) && !acceptsNull(property))
    .map(([name]) => name);
  if (droppable.length === 0) return validate;
  return withRule(validate, {
    before: (data) => {
      if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
      for (const name of droppable) if ((data as Record<string, unknown>)[name] === null) delete (data as Record<string, unknown>)[name];
      return undefined;
    },
  });
}

/**
 * A route that attaches its validation error (a page form shown again with what was wrong) does so
 * for its body only: a path or query parameter that fails its schema is refused before the handler,
 * as on every other route. (A handler reads its body's verdict; one left to read the params' would
 * pass a NUL in a session id on to PostgreSQL, a 500.)
 */
const refuseAttachedNonBodyIssues: preHandlerHookHandler = (request, _reply, done) => {
  const error = request.validationError as (Error & { validationContext?: string }) | undefined;
  if (error !== undefined && error.validationContext !== 'body') return done(error);
  done();
};

export function installValidators(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.attachValidation) route.preHandler = [refuseAttachedNonBodyIssues, ...(route.preHandler === undefined ? [] : [route.preHandler].flat())];
  });
  let body: Ajv | undefined;
  let text: Ajv | undefined;
  app.setValidatorCompiler(({ schema, httpPart }) => lazyValidator(() => {
    if (httpPart === 'body') return withMissingBody(withOptionalNulls(withTextCheck((body ??= ajv({ coerceTypes: false })).compile(schema)), schema));
    return withDecimalNumbers(withTextCheck((text ??= ajv({ coerceTypes: 'array' })).compile(schema)), schema);
  }));
  app.setSerializerCompiler(lazySerializerCompiler());
}

/** fast-json-stringify's compiler (Fastify's default), also deferred to each response schema's first use. */
function lazySerializerCompiler(): FastifySerializerCompiler<object> {
  const build = SerializerSelector()(undefined, undefined) as (route: { schema: object }) => (data: unknown) => string;
  return (route) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data) => (serialize ??= build(route))(data);
  };
}
