#!/usr/bin/env node
// The gatehouse command: serve, migrate, create-admin. Runs the built code in dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('gatehouse: dist/ is missing; run `npm run build` (or `npm start`, which builds it)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
