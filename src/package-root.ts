// The package's root folder (where package.json and data-files/ live), found by walking up from
// this module: the same answer from src/ (tests), dist/ (the library) and the start-up bundle.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'data-files'))) return dir;
    if (dirname(dir) === dir) throw new Error('gatehouse: cannot find the package root (package.json and data-files/)');
  }
}

export const PACKAGE_ROOT: string = findRoot(dirname(fileURLToPath(import.meta.url)));
