// One load run with autocannon's programmatic API: a warm-up, then the measured run, with exact latency
// percentiles, error counts and the server's peak RSS; optionally a light companion load alongside.
import autocannon from 'autocannon';
import { cpuMeter, waitIdle, watchRss } from './proc.mjs';

/**
 * autocannon's own histogram keeps whole milliseconds; sub-millisecond latencies would all read 0 or 1.
 * Every response time (a float in ms) is kept here instead, then sorted once.
 */
class Latencies {
  #values = new Float64Array(1 << 16);
  #count = 0;

  record(ms) {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  summary() {
    const sorted = this.#values.subarray(0, this.#count).sort();
    // Nearest-rank percentile: the smallest value with at least p % of the samples at or below it.
    const at = (p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
    let total = 0;
    for (const v of sorted) total += v;
    return { count: sorted.length, mean: total / sorted.length, p50: at(50), p99: at(99), max: at(100) };
  }
}

function cannon(options, latencies, recording = () => true) {
  const instance = autocannon(options);
  // 2xx only, as autocannon does: a shed 503 answers in no time and would flatter the percentiles.
  if (latencies) instance.on('response', (_client, status, _bytes, ms) => status >= 200 && status < 300 && recording() && latencies.record(ms));
  return instance;
}

function summarise(result, latencies) {
  const lat = latencies.summary();
  return {
    // The rate that counts: a shed 503 or a 429 answers fast and must not pass for throughput.
    rate: result['2xx'] / result.duration,
    requestsPerSecond: result.requests.mean,
    requests: result.requests.total,
    latencyP50: lat.p50,
    latencyP99: lat.p99,
    latencyMean: lat.mean,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
    durationSeconds: result.duration,
  };
}

/**
 * Loads `url + request.path` for `load.duration` seconds after `load.warmup` seconds of the same load.
 * `companion` (same shape as request, plus `connections` and `rate` in requests/s) runs alongside the
 * measured part only; its latencies are reported separately.
 */
export async function runLoad({ url, pid, request, load, companion }) {
  const base = {
    url: url + request.path,
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    body: request.body,
    connections: load.connections,
    pipelining: load.pipelining,
    timeout: 10,
  };

  if (load.warmup > 0) {
    await cannon({ ...base, duration: load.warmup });
    await waitIdle(pid);
  }

  const rss = watchRss(pid);
  const cpu = cpuMeter(pid);
  const latencies = new Latencies();
  const main = cannon({ ...base, duration: load.duration }, latencies);
  let mainRunning = true;
  let side;
  let sideInstance;
  if (companion) {
    const sideLatencies = new Latencies();
    // Only responses that arrive while the main load runs count: autocannon stops on its next
    // once-a-second tick, and idle-server samples after the storm would flatter the p99.
    sideInstance = cannon({
      url: url + companion.path,
      method: companion.method ?? 'GET',
      headers: companion.headers ?? {},
      connections: companion.connections ?? 1,
      pipelining: 1,
      overallRate: companion.rate,
      duration: load.duration,
      timeout: 10,
    }, sideLatencies, () => mainRunning);
    side = sideInstance.then((result) => summarise(result, sideLatencies));
  }
  const mainResult = await main;
  // Stopped at once: the server may go on with work the load generator abandoned (queued verifies).
  const cpuUse = cpu.stop();
  mainRunning = false;
  sideInstance?.stop();
  const result = summarise(mainResult, latencies);
  if (side) result.companion = await side;
  result.peakRssBytes = rss.stop();
  result.cpu = cpuUse;
  // 2xx per second of CPU the server itself burned: steadier than the raw rate when other jobs share the machine.
  result.perCpuSecond = cpuUse.serverSeconds > 0 ? mainResult['2xx'] / cpuUse.serverSeconds : NaN;
  return result;
}
