// Ajv errors → FastAPI/pydantic-v2 shaped 422 items, so existing FastAPI clients keep working.
import type { ErrorObject } from 'ajv';
import type { ValidationIssue } from './http-error.js';

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ['string_type', 'Input should be a valid string'],
  integer: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  array: ['list_type', 'Input should be a valid list'],
  // A body or nested object is a pydantic model, whose wrong-type error is this one (not dict_type).
  object: ['model_attributes_type', 'Input should be a valid dictionary or object to extract fields from'],
  null: ['none_required', 'Input should be None'],
};

/** Ajv format → pydantic v2's error type and the noun of its message. */
const FORMAT_NAMES: Record<string, [string, string]> = {
  'date-time': ['datetime_parsing', 'datetime'],
  date: ['date_parsing', 'date'],
  time: ['time_parsing', 'time'],
  uuid: ['uuid_parsing', 'UUID'],
  uri: ['url_parsing', 'URL'],
  url: ['url_parsing', 'URL'],
};

/** Fastify's `validationContext` → FastAPI's first `loc` element. */
function locRoot(context: string | undefined): string {
  switch (context) {
    case 'querystring': return 'query';
    case 'params': return 'path';
    case 'headers': return 'header';
    default: return 'body';
  }
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath.slice(1).split('/').map((part) => {
    const unescaped = part.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(unescaped) ? Number(unescaped) : unescaped;
  });
}

/**
 * Text that did not parse as the type wanted (query, path and header values are always text):
 * pydantic's `*_parsing` errors, not its `*_type` ones.
 */
const PARSING_NAMES: Record<string, [string, string]> = {
  integer: ['int_parsing', 'Input should be a valid integer, unable to parse string as an integer'],
  number: ['float_parsing', 'Input should be a valid number, unable to parse string as a number'],
  boolean: ['bool_parsing', 'Input should be a valid boolean, unable to interpret input'],
};

function describe(error: ErrorObject, fromText: boolean): { msg: string; type: string; extra?: string } {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': return { msg: 'Field required', type: 'missing', extra: String(p.missingProperty) };
    case 'additionalProperties':
      return { msg: 'Extra inputs are not permitted', type: 'extra_forbidden', extra: String(p.additionalProperty) };
    case 'type': {
      const wanted = String(Array.isArray(p.type) ? p.type[0] : p.type);
      const [type, msg] = (fromText ? PARSING_NAMES[wanted] : undefined) ?? TYPE_NAMES[wanted] ?? ['type_error', `Input should be of type ${wanted}`];
      return { msg, type };
    }
    case 'minLength': return { msg: `String should have at least ${p.limit} character${p.limit === 1 ? '' : 's'}`, type: 'string_too_short' };
    case 'maxLength': return { msg: `String should have at most ${p.limit} character${p.limit === 1 ? '' : 's'}`, type: 'string_too_long' };
    case 'pattern': return { msg: `String should match pattern '${p.pattern}'`, type: 'string_pattern_mismatch' };
    case 'format': {
      if (p.format === 'email') return { msg: 'value is not a valid email address', type: 'value_error' };
      const [type, name] = FORMAT_NAMES[String(p.format)] ?? [`${String(p.format)}_parsing`, String(p.format)];
      return { msg: `Input should be a valid ${name}`, type };
    }
    case 'minimum': return { msg: `Input should be greater than or equal to ${p.limit}`, type: 'greater_than_equal' };
    case 'maximum': return { msg: `Input should be less than or equal to ${p.limit}`, type: 'less_than_equal' };
    case 'exclusiveMinimum': return { msg: `Input should be greater than ${p.limit}`, type: 'greater_than' };
    case 'exclusiveMaximum': return { msg: `Input should be less than ${p.limit}`, type: 'less_than' };
    case 'minItems': return { msg: `List should have at least ${p.limit} item${p.limit === 1 ? '' : 's'}`, type: 'too_short' };
    case 'maxItems': return { msg: `List should have at most ${p.limit} item${p.limit === 1 ? '' : 's'}`, type: 'too_long' };
    case 'uniqueItems': return { msg: 'List items should be unique', type: 'value_error' };
    case 'enum': return { msg: `Input should be ${choices(p.allowedValues as unknown[])}`, type: 'enum' };
    // One literal, or (mergeUnionBranches) the choice of a union of literals.
    case 'const': return { msg: `Input should be ${choices((p.allowedValues as unknown[] | undefined) ?? [p.allowedValue])}`, type: 'literal_error' };
    // Raised by plugins/validation.ts (not Ajv); worded like a pydantic field validator's ValueError.
    case 'nulCharacter': return { msg: 'Value error, NUL characters are not allowed', type: 'value_error' };
    case 'loneSurrogate': return { msg: 'Value error, text must be valid Unicode (a lone surrogate is not a character)', type: 'value_error' };
    // Raised by plugins/validation.ts: a route that needs a body got none.
    case 'missingBody': return { msg: 'Field required', type: 'missing' };
    default: return { msg: 'Input is invalid', type: 'value_error' };
  }
}

// anyOf/oneOf produce one error per branch plus a summary; the branches say more than the summary.
const SUMMARY_KEYWORDS = new Set(['anyOf', 'oneOf', 'if', 'not']);

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`: how pydantic lists the values it would have taken. */
function choices(values: readonly unknown[]): string {
  const quoted = values.map((v) => `'${String(v)}'`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : quoted[0]!;
}

/**
 * One value that matched no branch of a union, as pydantic reports it: a choice of literals is one
 * "Input should be 'a' or 'b'" (Ajv raises a `const` error per branch, and FastAPI clients show the
 * first); an optional field (`X | null`) reports what X wanted, not also "Input should be None".
 */
function mergeUnionBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf');
  if (unions.length === 0) return [...errors];
  const drop = new Set<ErrorObject>();
  const merged = new Map<ErrorObject, ErrorObject>();
  for (const union of unions) {
    const prefix = `${union.schemaPath}/`;
    const branches = errors.filter((e) => e !== union && e.instancePath === union.instancePath && e.schemaPath.startsWith(prefix));
    const branchOf = (e: ErrorObject) => e.schemaPath.slice(prefix.length).split('/')[0];
    const branchIds = new Set(branches.map(branchOf));
    const consts = branches.filter((e) => e.keyword === 'const');
    if (consts.length > 0 && new Set(consts.map(branchOf)).size === branchIds.size) {
      for (const e of branches) drop.add(e);
      merged.set(union, { ...consts[0]!, params: { allowedValues: consts.map((e) => (e.params as { allowedValue?: unknown }).allowedValue) } });
      continue;
    }
    const nullBranch = branches.filter((e) => e.keyword === 'type' && (e.params as { type?: unknown }).type === 'null');
    if (nullBranch.length > 0 && nullBranch.length < branches.length) for (const e of nullBranch) drop.add(e);
  }
  return errors.flatMap((e) => (merged.has(e) ? [merged.get(e)!] : drop.has(e) ? [] : [e]));
}

/**
 * At most this many issues in one 422 (FastAPI lists them all): a 1 MiB body of 50 000 unknown keys
 * would otherwise be answered with ~4.5 MB — an amplifier. A client fixing its request needs the
 * first ones; the rest follow on the next try.
 */
export const MAX_ISSUES = 100;

export function issuesFromAjv(raw: readonly ErrorObject[], context: string | undefined): ValidationIssue[] {
  const root = locRoot(context);
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  const errors = mergeUnionBranches(raw);
  for (const error of errors) {
    if (issues.length === MAX_ISSUES) break;
    if (SUMMARY_KEYWORDS.has(error.keyword) && errors.length > 1) continue;
    const { msg, type, extra } = describe(error, root !== 'body');
    const loc = [root, ...pathOf(error.instancePath), ...(extra === undefined ? [] : [extra])];
    // pydantic stops at a field's first failed constraint (length before pattern): one issue a field.
    const key = JSON.stringify(loc);
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ loc, msg, type });
  }
  // pydantic reports the fields it knows first, then the inputs it does not.
  return [...issues.filter((i) => i.type !== 'extra_forbidden'), ...issues.filter((i) => i.type === 'extra_forbidden')];
}
