// The 422 formatter: real Ajv errors become the items FastAPI/pydantic v2 would produce, word for
// word, so clients written against the seeds keep working; and the validators the app installs
// (exact bodies, coerced text, no NUL) behave as the contract needs on a bare Fastify.
import { Ajv, type ErrorObject } from 'ajv';
import formats from 'ajv-formats';
import Fastify from 'fastify';
import { Type, type TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import { issuesFromAjv } from '../../src/errors/validation.js';
import { findUnstorableText, installValidators } from '../../src/plugins/validation.js';

const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));

function issues(schema: TSchema, data: unknown, context = 'body') {
  const validate = ajv.compile(schema);
  expect(validate(data)).toBe(false);
  return issuesFromAjv(validate.errors as ErrorObject[], context);
}

describe('issuesFromAjv speaks pydantic v2', () => {
  const User = Type.Object({
    username: Type.String({ minLength: 3, maxLength: 5, pattern: '^[a-z]+$' }),
    email: Type.String({ format: 'email' }),
    age: Type.Integer({ minimum: 18, maximum: 130 }),
    score: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    admin: Type.Boolean(),
    tags: Type.Array(Type.String(), { minItems: 1, maxItems: 2 }),
    role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
    kind: Type.Literal('person'),
    address: Type.Object({ city: Type.String() }, { additionalProperties: false }),
  }, { additionalProperties: false });
  const valid = { username: 'abc', email: 'a@example.com', age: 30, score: 0.5, admin: false, tags: ['x'], role: 'user', kind: 'person', address: { city: 'Oslo' } };
  const one = (patch: Record<string, unknown>) => issues(User, { ...valid, ...patch });

  it.each([
    ['missing', (() => { const { email: _e, ...rest } = valid; return issues(User, rest); })(), ['body', 'email'], 'Field required', 'missing'],
    ['extra', one({ is_superuser: true }), ['body', 'is_superuser'], 'Extra inputs are not permitted', 'extra_forbidden'],
    ['string', one({ username: 5 }), ['body', 'username'], 'Input should be a valid string', 'string_type'],
    ['integer', one({ age: 'x' }), ['body', 'age'], 'Input should be a valid integer', 'int_type'],
    ['number', one({ score: 'x' }), ['body', 'score'], 'Input should be a valid number', 'float_type'],
    ['boolean', one({ admin: 'yes' }), ['body', 'admin'], 'Input should be a valid boolean', 'bool_type'],
    ['list', one({ tags: 'x' }), ['body', 'tags'], 'Input should be a valid list', 'list_type'],
    ['too short', one({ username: 'ab' }), ['body', 'username'], 'String should have at least 3 characters', 'string_too_short'],
    ['too long', one({ username: 'abcdef' }), ['body', 'username'], 'String should have at most 5 characters', 'string_too_long'],
    ['pattern', one({ username: 'ABC' }), ['body', 'username'], "String should match pattern '^[a-z]+$'", 'string_pattern_mismatch'],
    ['email', one({ email: 'not-an-email' }), ['body', 'email'], 'value is not a valid email address', 'value_error'],
    ['minimum', one({ age: 17 }), ['body', 'age'], 'Input should be greater than or equal to 18', 'greater_than_equal'],
    ['maximum', one({ age: 131 }), ['body', 'age'], 'Input should be less than or equal to 130', 'less_than_equal'],
    ['exclusive minimum', one({ score: 0 }), ['body', 'score'], 'Input should be greater than 0', 'greater_than'],
    ['exclusive maximum', one({ score: 1 }), ['body', 'score'], 'Input should be less than 1', 'less_than'],
    ['too few items', one({ tags: [] }), ['body', 'tags'], 'List should have at least 1 item', 'too_short'],
    ['too many items', one({ tags: ['a', 'b', 'c'] }), ['body', 'tags'], 'List should have at most 2 items', 'too_long'],
    ['literal', one({ kind: 'robot' }), ['body', 'kind'], "Input should be 'person'", 'literal_error'],
    ['nested missing', one({ address: {} }), ['body', 'address', 'city'], 'Field required', 'missing'],
    ['nested extra', one({ address: { city: 'Oslo', zip: '0150' } }), ['body', 'address', 'zip'], 'Extra inputs are not permitted', 'extra_forbidden'],
    ['array item', one({ tags: ['ok', 7] }), ['body', 'tags', 1], 'Input should be a valid string', 'string_type'],
    ['not an object', issues(User, [1, 2]), ['body'], 'Input should be a valid dictionary or object to extract fields from', 'model_attributes_type'],
  ])('%s', (_name, found, loc, msg, type) => {
    expect(found).toContainEqual({ loc, msg, type });
    for (const item of found) expect(Object.keys(item).sort()).toEqual(['loc', 'msg', 'type']);
  });

  it('a union of literals is one enum-style item, not one per branch plus a summary', () => {
    const found = one({ role: 'superuser' });
    expect(found.every((i) => i.loc.join('.') === 'body.role')).toBe(true);
    expect(found.some((i) => i.type === 'literal_error')).toBe(true);
    expect(found.find((i) => i.msg === 'Input is invalid')).toBeUndefined();
  });

  it('an enum lists its values the way pydantic does', () => {
    expect(issues(Type.Object({ s: Type.String({ enum: ['a', 'b', 'c'] }) }), { s: 'z' })).toEqual([
      { loc: ['body', 's'], msg: "Input should be 'a', 'b' or 'c'", type: 'enum' },
    ]);
  });

  it('names the part of the request: query, path, header', () => {
    const schema = Type.Object({ limit: Type.Integer() });
    expect(issues(schema, { limit: 'x' }, 'querystring')[0]!.loc).toEqual(['query', 'limit']);
    expect(issues(schema, { limit: 'x' }, 'params')[0]!.loc).toEqual(['path', 'limit']);
    expect(issues(schema, { limit: 'x' }, 'headers')[0]!.loc).toEqual(['header', 'limit']);
  });

  it('JSON-pointer escapes in field names are undone in loc', () => {
    const found = issues(Type.Object({}, { additionalProperties: false }), { 'a/b~c': 1 });
    expect(found).toEqual([{ loc: ['body', 'a/b~c'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }]);
  });

  it('formats use pydantic names', () => {
    const schema = Type.Object({ id: Type.String({ format: 'uuid' }), at: Type.String({ format: 'date-time' }) });
    expect(issues(schema, { id: 'x', at: 'yesterday' })).toEqual([
      { loc: ['body', 'id'], msg: 'Input should be a valid UUID', type: 'uuid_parsing' },
      { loc: ['body', 'at'], msg: 'Input should be a valid datetime', type: 'datetime_parsing' },
    ]);
  });
});

describe('findUnstorableText', () => {
  const nul = (at: string) => ({ at, keyword: 'nulCharacter' });
  it('finds a NUL in a nested string or key and gives its JSON pointer', () => {
    expect(findUnstorableText({ a: [{ b: 'fine' }, { c: 'x\u0000y' }] })).toEqual(nul('/a/1/c'));
    expect(findUnstorableText({ 'k\u0000': 1 })).toEqual(nul('/k\u0000'));
    expect(findUnstorableText('\u0000')).toEqual(nul(''));
    expect(findUnstorableText({ 'a/b': { '~': '\u0000' } })).toEqual(nul('/a~1b/~0'));
  });

  it('finds half a character (a lone surrogate, either half, anywhere), but not a whole one', () => {
    for (const text of ['\ud800', 'ab\udfff', '\udc00x', 'x\ud83d', '\ude00\ud83d']) {
      expect(findUnstorableText({ name: text }), JSON.stringify(text)).toEqual({ at: '/name', keyword: 'loneSurrogate' });
    }
    expect(findUnstorableText({ ['k\ud800']: 'v' })).toEqual({ at: '/k\ud800', keyword: 'loneSurrogate' });
    expect(findUnstorableText({ name: 'smile \ud83d\ude00, caf\u00e9, \u4e2d\u6587' })).toBeUndefined();
  });

  it('passes clean values of every kind', () => {
    expect(findUnstorableText({ a: 1, b: null, c: true, d: ['x', { e: 'y' }], f: '' })).toBeUndefined();
    expect(findUnstorableText(undefined)).toBeUndefined();
  });

  it('walks 100 000 levels without blowing the stack', () => {
    let deep: unknown = 'a\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableText(deep)).toEqual(nul('/0'.repeat(100_000)));
  });
});

describe('the installed validators on a bare Fastify', () => {
  async function app() {
    const fastify = Fastify();
    installValidators(fastify);
    fastify.post('/body', { schema: { body: Type.Object({ n: Type.Integer(), s: Type.Optional(Type.String()) }, { additionalProperties: false }) } }, async (r) => r.body);
    fastify.get('/query', { schema: { querystring: Type.Object({ n: Type.Integer(), flags: Type.Optional(Type.Array(Type.String())) }) } }, async (r) => r.query);
    await fastify.ready();
    return fastify;
  }

  it('bodies are exact: no coercion, unknown fields refused, NUL refused', async () => {
    const f = await app();
    expect((await f.inject({ method: 'POST', url: '/body', payload: { n: 1 } })).json()).toEqual({ n: 1 });
    expect((await f.inject({ method: 'POST', url: '/body', payload: { n: '1' } })).statusCode).toBe(400);
    expect((await f.inject({ method: 'POST', url: '/body', payload: { n: 1, x: 1 } })).statusCode).toBe(400);
    const nul = await f.inject({ method: 'POST', url: '/body', payload: { n: 1, s: 'a\u0000' } });
    expect(nul.statusCode).toBe(400);
    await f.close();
  });

  it('query strings are coerced from text, including one value into an array', async () => {
    const f = await app();
    expect((await f.inject({ method: 'GET', url: '/query?n=7&flags=a' })).json()).toEqual({ n: 7, flags: ['a'] });
    expect((await f.inject({ method: 'GET', url: '/query?n=seven' })).statusCode).toBe(400);
    expect((await f.inject({ method: 'GET', url: '/query?n=7&flags=%00' })).statusCode).toBe(400);
    await f.close();
  });
});
