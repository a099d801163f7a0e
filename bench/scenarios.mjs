// The scenario list `npm run bench` runs, in order. A new scenario is one more entry here:
//   name      unique id, used by budgets (`ratioOf`) and in the report
//   title     one line for the report
//   server    a key of `servers` in bench/servers.mjs (started once, reused by consecutive scenarios)
//   section   'stack' (the budgets of the product) or 'headers' (the one-off helmet comparison)
//   request   { method, path, headers, body } for autocannon
//   setup     optional async (server) => { request?, companion?, info? }, merged over the static parts;
//             throw Skip (bench/setup.mjs) when the endpoint does not exist yet
//   companion optional light load run alongside the measured part: { path, connections, rate }
//   unit      what one request is, for the report ('requests/s' unless said)
//   note      optional sentence for the report: what to know when reading the figures
//   probes    names from `probes` below that the budgets need, measured just before the load
//   budget    optional, one or a list of:
//               { ratioOf: '<scenario or probe>', min }   this scenario's rate ÷ the other's rate ≥ min
//               { metric: 'companion.latencyP99', max, unit, label }   a measured value ≤ max
import { argon2Rate, ARGON2_OPTIONS } from './argon2-rate.mjs';
import { apiKeyFor, passwordGrantBody, passwordToken, registerUser, requireEndpoint, responseHeaders } from './setup.mjs';

export const probes = {
  argon2: {
    title: `argon2id \`hash\` (m=${ARGON2_OPTIONS.memoryCost} KiB, t=${ARGON2_OPTIONS.timeCost}, p=${ARGON2_OPTIONS.parallelism}), one call in flight per core, ~3 s`,
    unit: 'hashes/s',
    async run() {
      const r = await argon2Rate({ seconds: 3 });
      return {
        value: r.hashesPerSecond,
        perCpuSecond: r.hashesPerCpuSecond,
        detail: `${r.hashes} hashes in ${r.seconds.toFixed(2)} s on ${r.concurrency} lanes, ${r.msPerHash.toFixed(1)} ms each, ${r.hashesPerCpuSecond.toFixed(1)} per CPU-second`,
      };
    },
  },
};

/** The authenticated-request budget (≥ 60 % of bare), with a bearer token or an API key as the credential. */
function usersMe(name, server, credential, title) {
  return {
    name,
    title,
    server,
    section: 'stack',
    request: { method: 'GET', path: '/api/v1/users/me' },
    async setup(target) {
      const user = await registerUser(target);
      const headers = credential === 'api-key'
        ? { 'x-api-key': await apiKeyFor(target, user) }
        : { authorization: `Bearer ${await passwordToken(target, user)}` };
      await requireEndpoint(target, 'GET', '/api/v1/users/me', 200, headers);
      return { request: { headers } };
    },
    budget: { ratioOf: 'bare', min: 0.6 },
  };
}

/** The one-off headers comparison: the bare route with one security-headers plugin, recording what it sends. */
function headersOnly(name, server, title) {
  return {
    name,
    title,
    server,
    section: 'headers',
    request: { method: 'GET', path: '/bare' },
    setup: async (target) => ({ info: { headers: await responseHeaders(target, '/bare') } }),
  };
}

export const scenarios = [
  {
    name: 'bare',
    title: 'GET /bare on bare Fastify: the baseline',
    server: 'bare',
    section: 'stack',
    request: { method: 'GET', path: '/bare' },
  },
  {
    name: 'healthz-full',
    title: 'GET /healthz through the full Gatehouse stack (every plugin `buildApp` registers, in its `serve` process)',
    server: 'gatehouse',
    section: 'stack',
    request: { method: 'GET', path: '/healthz' },
    budget: { ratioOf: 'bare', min: 0.7 },
  },
  usersMe('users-me-bearer', 'gatehouse', 'bearer',
    'GET /api/v1/users/me with `Authorization: Bearer` (JWT verify, revocation check, user read from SQLite)'),
  usersMe('users-me-api-key', 'gatehouse', 'api-key',
    'GET /api/v1/users/me with `X-API-Key` (prefix lookup joined with the owner, HMAC check, scopes)'),
  usersMe('users-me-bearer-redis', 'gatehouse-redis', 'bearer',
    'GET /api/v1/users/me with `Authorization: Bearer`, rate limits and revocations in Redis'),
  usersMe('users-me-api-key-redis', 'gatehouse-redis', 'api-key',
    'GET /api/v1/users/me with `X-API-Key`, rate limits and revocations in Redis'),
  {
    name: 'login-storm',
    title: 'POST /api/v1/auth/token (password grant, right credentials) on every connection, /healthz polled alongside',
    server: 'gatehouse-login',
    section: 'stack',
    unit: 'logins/s',
    note: 'Gatehouse runs at most one argon2id per core and sheds what its hash queue (src/crypto/hash-queue.ts) '
      + 'cannot drain within about a second with `503` + `Retry-After`; autocannon resends at once, so those 503s '
      + 'are part of the storm. Only the `200`s count as logins.',
    request: { method: 'POST', path: '/api/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    // 100 polls a second on one connection: enough samples for a p99, too few to steal the CPU argon2 needs.
    companion: { method: 'GET', path: '/healthz', connections: 1, rate: 100 },
    async setup(server) {
      const user = await registerUser(server);
      await passwordToken(server, user); // the endpoint exists and these credentials work
      return { request: { body: passwordGrantBody(user) } };
    },
    probes: ['argon2'],
    budget: [
      { metric: 'companion.latencyP99', max: 10, unit: 'ms', label: '/healthz p99 during the storm' },
      { ratioOf: 'argon2', min: 0.8, label: 'logins/s ÷ argon2id hashes/s' },
    ],
  },
  headersOnly('headers-helmet', 'helmet', 'GET /bare on bare Fastify + @fastify/helmet (static CSP, no HSTS)'),
  headersOnly('headers-gatehouse', 'security-headers', 'GET /bare on bare Fastify + Gatehouse `securityHeaders({ hsts: false })`'),
];
