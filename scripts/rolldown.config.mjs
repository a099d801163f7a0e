// The start-up bundle: dist/ (tsc's output) and its dependencies in one ES module, so `gatehouse
// serve` starts in well under a second — Node 20 spends most of a cold start resolving and loading
// hundreds of small modules one by one (docs/benchmarks.md, start-up). The library entry points in
// package.json `exports` stay the unbundled dist/ files.
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Native addons, packages whose files are read at run time, and drivers loaded only on demand.
const keepOutside = ['better-sqlite3', '@node-rs/argon2', 'swagger-ui-dist', 'htmx.org', 'pg', 'pg-native', 'ioredis', 'nodemailer', 'qrcode'];

export default {
  input: `${root}dist/cli/index.js`,
  platform: 'node',
  transform: { target: 'node20' },
  external: (id) => {
    if (id.startsWith('node:') || builtinModules.includes(id)) return true;
    if (id.startsWith('.') || id.startsWith('/')) return false;
    return keepOutside.some((p) => id === p || id.startsWith(`${p}/`));
  },
  output: { file: `${root}dist/gatehouse.bundle.mjs`, format: 'esm', codeSplitting: false, sourcemap: false },
  logLevel: 'warn',
};
