#!/usr/bin/env node
// The gatehouse command: serve, migrate, create-admin, rotate-signing-key. Runs the start-up
// bundle of dist/ (scripts/rolldown.config.mjs): one module to load instead of hundreds.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/gatehouse.bundle.mjs', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('gatehouse: dist/ is missing; run `npm run build` (or `npm start`, which builds it)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
