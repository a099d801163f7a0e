// Creating DATA_DIR and the directories beneath it.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own `mkdirSync(path, { recursive: true })` spins forever
 * at full CPU where mkdir answers ENOENT under a parent that exists (`/proc/...`), which would hang
 * start-up instead of refusing it. Throws the first real error, naming the path; new levels get
 * `mode`, levels that already exist keep theirs.
 */
export function makeDirectory(path: string, mode = 0o700): void {
  const target = resolve(path);
  const missing: string[] = [];
  for (let at = target; ; at = dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory: ${at}`), { code: 'ENOTDIR', path: at });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw err;
      missing.push(at);
    }
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it meanwhile
    }
  }
}
