// The real app for a test, on a fresh database, driven with inject(); closed after.
import { Writable } from 'node:stream';
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
  const app = await buildApp(config, { ...options, storage, logStream });
  await app.ready();
  return {
    app, config, storage, logs,
    async close() {
      await app.close();
      await storage.close();
    },
  };
}
