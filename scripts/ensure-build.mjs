// Builds dist/ (tsc) and the start-up bundle (rolldown) when they are missing or older than any
// source file, so `npm start` and `npx gatehouse` work on a fresh clone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', 'gatehouse.bundle.mjs');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const inputs = [join(root, 'tsconfig.build.json'), join(root, 'scripts', 'rolldown.config.mjs'), join(root, 'package-lock.json')];
const sources = Math.max(newest(join(root, 'src')), ...inputs.map((f) => statSync(f).mtimeMs));
if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  process.stderr.write('gatehouse: building dist/ …\n');
  const run = (script, args) => execFileSync(process.execPath, [join(root, 'node_modules', ...script), ...args], { stdio: 'inherit', cwd: root });
  run(['typescript', 'bin', 'tsc'], ['-p', join(root, 'tsconfig.build.json')]);
  run(['rolldown', 'bin', 'cli.mjs'], ['-c', join(root, 'scripts', 'rolldown.config.mjs')]);
  const now = new Date();
  utimesSync(stamp, now, now); // the stamp must be newer than every source
}
