// `npm run bench`: start-up times, then every scenario in bench/scenarios.mjs against its own child-process
// server, then docs/benchmarks.md + docs/benchmarks.svg. Exits 0 when budgets fail (it is a report);
// exits 1 only when the harness itself could not measure something.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateBudgets, fmtRate } from './budgets.mjs';
import { barChartSvg } from './chart.mjs';
import { runLoad } from './load.mjs';
import { renderMarkdown, renderStdout } from './report.mjs';
import { probes, scenarios } from './scenarios.mjs';
import { ROOT, startServer } from './servers.mjs';
import { Skip } from './setup.mjs';

const USAGE = `Usage: npm run bench -- [--duration 10] [--connections 50] [--pipelining 1] [--warmup 2] [--startup-runs 5]`;

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      pipelining: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '2' },
      'startup-runs': { type: 'string', default: '5' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`bench: --${name} must be an integer ≥ ${min}, got "${values[name]}"\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    load: { duration: int('duration', 1), connections: int('connections', 1), pipelining: int('pipelining', 1), warmup: int('warmup', 0) },
    startupRuns: int('startup-runs', 1),
  };
}

function machine() {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const pkg = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  return {
    cpu: model.trim(), cores: availableParallelism(), memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${type()} ${release()}`, node: process.version, autocannon: pkg('autocannon'), date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadAverage: loadavg().map((v) => v.toFixed(2)).join(' / '),
  };
}

const say = (line) => process.stdout.write(`${line}\n`);

async function measureStartup(tempRoot, runs) {
  const startup = {};
  for (const name of ['gatehouse', 'bare']) {
    startup[name] = [];
    for (let i = 0; i < runs; i += 1) {
      const server = await startServer(name, tempRoot);
      startup[name].push(server.startupMs);
      await server.stop();
    }
    say(`start-up ${name}: ${startup[name].map((v) => v.toFixed(0)).join(', ')} ms`);
  }
  return startup;
}

/** The scenarios another scenario's ratio budgets compare with (e.g. `bare`), by name. */
function pairedReferences(scenario) {
  return [scenario.budget ?? []].flat().map((b) => b.ratioOf).filter((name) => name !== scenario.name && scenarios.some((s) => s.name === name));
}

/**
 * The reference scenarios (the bare route) measured right before and right after each scenario that
 * is budgeted against them, on a reference server kept running for the whole bench. This machine's
 * speed drifts by a third over minutes (steal time on a shared VM): a ratio against one baseline run
 * minutes earlier measured the drift as much as the stack. Both servers exist throughout, but only
 * one is loaded at a time.
 */
class PairedBaselines {
  #servers = new Map();

  constructor(tempRoot, load) {
    this.tempRoot = tempRoot;
    this.load = load;
  }

  async measure(name) {
    const scenario = scenarios.find((s) => s.name === name);
    let server = this.#servers.get(scenario.server);
    if (!server) {
      server = await startServer(scenario.server, this.tempRoot);
      this.#servers.set(scenario.server, server);
    }
    return runLoad({ url: server.url, pid: server.pid, request: scenario.request, load: this.load });
  }

  async stop() {
    for (const server of this.#servers.values()) await server.stop();
  }
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

async function runScenarios(tempRoot, load) {
  const results = {};
  const probeResults = {};
  const baselines = new PairedBaselines(tempRoot, load);
  let server;
  for (const scenario of scenarios) {
    say(`▶ ${scenario.name}: ${scenario.title}`);
    try {
      if (server?.name !== scenario.server) {
        await server?.stop();
        server = undefined;
        server = await startServer(scenario.server, tempRoot);
      }
      const prepared = scenario.setup ? await scenario.setup(server) : {};
      const request = { ...scenario.request, ...prepared.request, headers: { ...scenario.request.headers, ...prepared.request?.headers } };
      for (const probe of scenario.probes ?? []) {
        if (probeResults[probe]) continue;
        say(`  probe ${probe}: ${probes[probe].title}`);
        probeResults[probe] = await probes[probe].run();
        say(`  probe ${probe}: ${fmtRate(probeResults[probe].value)} ${probes[probe].unit}`);
      }
      const companion = prepared.companion ?? scenario.companion;
      const references = pairedReferences(scenario);
      const before = {};
      for (const name of references) before[name] = await baselines.measure(name);
      const result = await runLoad({ url: server.url, pid: server.pid, request, load, companion });
      const paired = {};
      for (const name of references) {
        const after = await baselines.measure(name);
        paired[name] = {
          rate: mean([before[name].rate, after.rate]),
          perCpuSecond: mean([before[name].perCpuSecond, after.perCpuSecond]),
          runs: [before[name].rate, after.rate],
        };
      }
      results[scenario.name] = { ...result, info: prepared.info, paired };
      say(`  ${fmtRate(result.rate)} ${scenario.unit ?? 'requests/s'} (2xx), p50 ${result.latencyP50.toFixed(2)} ms, p99 ${result.latencyP99.toFixed(2)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
      for (const [name, p] of Object.entries(paired)) say(`  ${name} just before and after: ${p.runs.map(fmtRate).join(' and ')} requests/s`);
    } catch (err) {
      if (err instanceof Skip) {
        results[scenario.name] = { skipped: err.message };
        say(`  skipped: ${err.message}`);
      } else {
        results[scenario.name] = { error: err instanceof Error ? err.message : String(err) };
        say(`  ERROR: ${results[scenario.name].error}`);
        // A server that failed mid-scenario is not reused.
        await server?.stop();
        server = undefined;
      }
    }
  }
  await server?.stop();
  await baselines.stop();
  return { results, probeResults };
}

function chartBars(results) {
  return scenarios.filter((s) => results[s.name]?.rate !== undefined).map((s) => ({
    label: s.name,
    value: results[s.name].rate,
    valueText: `${fmtRate(results[s.name].rate)} ${s.unit ?? 'req/s'}`,
    kind: s.server === 'bare' ? 'baseline' : s.section,
  }));
}

async function main() {
  const { load, startupRuns } = options();
  const tempRoot = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  try {
    const info = machine();
    say(`bench: ${info.cpu}, ${info.cores} cores, Node ${info.node}; ${load.connections} connections, ${load.warmup} s warm-up + ${load.duration} s per scenario`);
    const startup = await measureStartup(tempRoot, startupRuns);
    const { results, probeResults } = await runScenarios(tempRoot, load);
    const budgets = evaluateBudgets(scenarios, results, probeResults);

    const docs = join(ROOT, 'docs');
    writeFileSync(join(docs, 'benchmarks.md'), renderMarkdown({ machine: info, load, scenarios, results, probeResults, budgets, startup }));
    writeFileSync(join(docs, 'benchmarks.svg'), barChartSvg({
      title: 'Throughput per scenario: 2xx responses per second (higher is better)',
      subtitle: `${info.cpu}, ${info.cores} cores, Node ${info.node}, ${load.connections} connections, ${load.duration} s, ${info.date}`,
      bars: chartBars(results),
    }));
    say('');
    say(renderStdout({ scenarios, results, budgets, startup }));
    const failed = budgets.filter((b) => b.status === 'FAIL' || b.status === 'ERROR');
    say('');
    say(failed.length
      ? `FAIL: ${failed.length} budget(s) not met: ${failed.map((b) => `${b.scenario} (${b.label}: ${b.status})`).join(', ')}`
      : 'all budgets that ran: PASS');
    say('wrote docs/benchmarks.md and docs/benchmarks.svg');
    return Object.values(results).some((r) => r.error) ? 1 : 0;
  } finally {
    rmSync(tempRoot, { recursive: true, force: true });
  }
}

process.exitCode = await main();
