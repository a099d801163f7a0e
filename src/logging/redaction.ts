// What never reaches a log line: credentials in headers, bodies and query strings.
// Used by the logger options below and by anything that logs a URL.

const SECRET_FIELDS = [
  'password', 'current_password', 'new_password', 'token', 'access_token', 'refresh_token', 'id_token',
  'api_key', 'apiKey', 'key', 'secret', 'otp', 'code', 'recovery_codes', 'csrf_token', 'client_secret',
  'authorization', 'cookie', 'otpauth_url',
];

/** pino `redact.paths`: the named headers, plus secret field names up to three levels deep. */
export const REDACT_PATHS: string[] = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["x-api-key"]',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
];

const SECRET_QUERY_PARAMS = new Set([
  ...SECRET_FIELDS.map((f) => f.toLowerCase()), 'apikey', 'api-key', 'x-api-key', 'jwt', 'session', 'sessionid', 'sig', 'signature',
]);

/** Whether a query parameter of this name carries a credential (`api_key`, `token`, …; any case, `name[]` too). */
export function isSecretParam(name: string): boolean {
  return SECRET_QUERY_PARAMS.has(name.toLowerCase().trim().replace(/\[[^\]]*\]$/, ''));
}

/** How many URLs nested in parameter values (`/login?next=%2Fx%3Fapi_key%3D…`) are looked into. */
const MAX_NESTING = 3;

/**
 * `/x?api_key=abc&page=2` → `/x?api_key=[REDACTED]&page=2`. Leaves URLs without a query untouched.
 * A value that is itself a URL with a query (a sign-in page's `next`) is redacted the same way.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // Matrix parameters (`/users/me;api_key=…`): pairs after a `;` in the path are judged like the query's.
  const semi = path.indexOf(';');
  const redactedPath = semi === -1 ? path : rewriteSecretParams(`${path.slice(0, semi)}?${path.slice(semi + 1)}`, 'redact', 0).replace('?', ';');
  return redactedPath + (q === -1 ? '' : rewriteSecretParams(`?${url.slice(q + 1)}`, 'redact', 0));
}

/**
 * `/x?api_key=abc&page=2` → `/x?page=2`: the address to send a browser on to, which must not carry a
 * credential into another address, its history and Referer headers. Judged as redactUrl judges.
 */
export function withoutSecretParams(url: string): string {
  return rewriteSecretParams(url, 'drop', 0);
}

function rewriteSecretParams(url: string, mode: 'redact' | 'drop', depth: number): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  // `;` separates pairs for some parsers (and proxies); a secret after one must not ride along in a value.
  const pieces = url.slice(q + 1).split(/([&;])/);
  const parts = pieces.map((pair, i): string | null => {
    if (i % 2 === 1) return pair;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    let value: string;
    try {
      // `api_key[]=…` and `api_key[0]=…` are the same secret to qs-style parsers: judge the base name.
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return mode === 'redact' ? '[REDACTED]' : null;
    }
    // `api_key%3D<key>` decodes to a name holding the value: judge what comes before its `=`.
    if (isSecretParam(name.split('=')[0]!)) return mode === 'redact' ? `${rawName.split(/%3d/i)[0]}=[REDACTED]` : null;
    if (depth < MAX_NESTING && value.includes('?')) {
      const inner = rewriteSecretParams(value, mode, depth + 1);
      if (inner !== value) return `${rawName}=${encodeURIComponent(inner)}`;
    }
    return pair;
  });
  if (mode === 'redact') return `${url.slice(0, q)}?${parts.join('')}`;
  // Dropped pairs take the separator before them along (or after them, for the first).
  const kept: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    if (parts[i] === null) continue;
    if (kept.length > 0) kept.push(parts[i - 1] ?? '&');
    kept.push(parts[i]!);
  }
  return kept.length > 0 ? `${url.slice(0, q)}?${kept.join('')}` : url.slice(0, q);
}
