// What /proc says about a server while it is under load: resident memory, CPU time, and whether it is idle.
import { readFileSync } from 'node:fs';

/** VmRSS of a live process in bytes, or 0 once it is gone. */
export function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples VmRSS every `everyMs` until stopped; `stop()` returns the peak in bytes. */
export function watchRss(pid, everyMs = 50) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => { peak = Math.max(peak, rssBytes(pid)); }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

/** Jiffies (USER_HZ, 100 a second on Linux) the whole machine spent busy and in total, from /proc/stat. */
function machineJiffies() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
  return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** utime + stime of a process (all its threads), in jiffies; fields 14 and 15 of /proc/<pid>/stat. */
function processJiffies(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * Who used the CPU while a load ran, as fractions of the whole machine: the server, this process (the
 * load generator) and everything else (other jobs, steal). A large "other" means the figures are noisy.
 */
export function cpuMeter(pid) {
  const m0 = machineJiffies();
  const s0 = processJiffies(pid);
  const b0 = process.cpuUsage();
  return {
    stop() {
      const m1 = machineJiffies();
      const total = Math.max(1, m1.total - m0.total);
      const serverJiffies = processJiffies(pid) - s0;
      const server = serverJiffies / total;
      const used = process.cpuUsage(b0);
      const loadGenerator = (used.user + used.system) / 10_000 / total; // µs → jiffies
      const busy = (m1.busy - m0.busy) / total;
      return { server, loadGenerator, other: Math.max(0, busy - server - loadGenerator), serverSeconds: serverJiffies / 100 };
    },
  };
}

/**
 * Resolves once the server spends a 100 ms window without a whole 10 ms CPU tick (or after `maxMs`). After a warm-up,
 * work the load generator abandoned (a queue of argon2 verifies, a GC) must not land in the measured part.
 */
export async function waitIdle(pid, { maxMs = 5000 } = {}) {
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    const before = processJiffies(pid);
    await new Promise((r) => setTimeout(r, 100));
    if (processJiffies(pid) - before < 1) return true;
  }
  return false;
}
