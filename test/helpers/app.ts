// The real app for a test, on a fresh database, driven with inject(); closed after.
import { Writable } from 'node:stream';
import { Type } from 'typebox';
import { buildApp, type AppDependencies, type GatehouseApp } from '../../src/app.js';
import type { Config, Env } from '../../src/config/index.js';
import { testConfig } from './config.js';
import { openSqlite, type TestStorage } from './databases.js';

export interface TestApp {
  readonly app: GatehouseApp;
  readonly config: Config;
  readonly storage: TestStorage;
  /** Every log line the app wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface TestAppOptions extends Omit<AppDependencies, 'storage' | 'logStream'> {
  readonly env?: Env;
  readonly storage?: TestStorage;
  /** Extra routes for one test file (a throwing route, a route with a body schema), added before ready(). */
  readonly routes?: (app: GatehouseApp) => void | Promise<void>;
}

export async function testApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig({ LOG_LEVEL: 'info', ...options.env });
  const storage = options.storage ?? (await openSqlite());
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { routes, ...deps } = options;
  const app = await buildApp(config, { ...deps, storage, logStream });
  if (routes) await routes(app);
  await app.ready();
  return {
    app, config, storage, logs,
    async close() {
      await app.close();
      await storage.close();
    },
  };
}

/** What the probe routes saw: a handler that ran when validation should have stopped it shows up here. */
export interface ProbeCalls {
  readonly echo: unknown[];
}

/**
 * Routes that exist only in tests, for contract clauses no product route can force: a handler that
 * throws (the bare 500), a JSON route with a strict TypeBox body (415/422), a query schema, and an
 * echo of what the app believes about the client (IP and scheme). Pass as `testApp({ routes: probeRoutes(calls) })`.
 */
export function probeRoutes(calls: ProbeCalls = { echo: [] }): (app: GatehouseApp) => void {
  return (app) => {
    app.get('/api/v1/_probe/boom', async () => {
      // Everything a careless handler could leak: SQL, a file path, a library name.
      throw new Error('SQLITE_ERROR: near "SELECT * FROM users WHERE password_hash": syntax error at /work/main/src/storage/kysely.ts:42');
    });
    app.post('/api/v1/_probe/echo', {
      schema: {
        body: Type.Object({
          username: Type.String({ minLength: 3, maxLength: 50 }),
          password: Type.String({ minLength: 8 }),
          full_name: Type.Optional(Type.String()),
        }, { additionalProperties: false }),
      },
    }, async (request) => {
      calls.echo.push(request.body);
      return { received: request.body };
    });
    app.get('/api/v1/_probe/search', {
      schema: { querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100 }), q: Type.Optional(Type.String()) }, { additionalProperties: false }) },
    }, async (request) => ({ query: request.query }));
    app.get('/api/v1/_probe/whoami', async (request) => ({ ip: request.clientIp, scheme: request.scheme }));
  };
}
