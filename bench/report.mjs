// docs/benchmarks.md and the stdout summary, from one run's results. Pure formatting: no measuring here.
import { fmtRate } from './budgets.mjs';
import { probes } from './scenarios.mjs';
import { servers } from './servers.mjs';

const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '—');
const mib = (bytes) => (bytes > 0 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : '—');
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const startupMedian = median;

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Fixed-width text table for the terminal. */
export function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const cpuText = (c) => (c ? `${pct(c.server)} / ${pct(c.loadGenerator)} / ${pct(c.other)}` : '—');
/** Above this share of the machine used by other processes, a run's figures are called out as noisy. */
const NOISY_OTHER = 0.1;

const statusCell = (s) => (s === 'PASS' ? '**PASS**' : s === 'FAIL' ? '**FAIL** ❌' : s);

function scenarioDetail(scenario, result) {
  const unit = scenario.unit ?? 'requests/s';
  const rows = [
    [`${unit}, 2xx only (the rate budgets use)`, fmtRate(result.rate)],
    ['responses/s, any status (autocannon mean)', fmtRate(result.requestsPerSecond)],
    ['responses completed', result.requests.toLocaleString('en-US')],
    ['latency p50', ms(result.latencyP50)],
    ['latency p99', ms(result.latencyP99)],
    ['errors / timeouts', `${result.errors} / ${result.timeouts}`],
    ['non-2xx responses', String(result.non2xx)],
    ['status codes', Object.entries(result.statusCodes).map(([c, n]) => `${c}: ${n.toLocaleString('en-US')}`).join(', ') || '—'],
    [`${unit.replace('/s', '')} per server CPU-second`, fmtRate(result.perCpuSecond)],
    ['server peak RSS', mib(result.peakRssBytes)],
    ['CPU of the machine: server / load generator / other', cpuText(result.cpu)],
  ];
  for (const [name, p] of Object.entries(result.paired ?? {})) {
    rows.push([`\`${name}\` just before / just after (the ratio's divisor is their mean)`, `${p.runs.map(fmtRate).join(' / ')} requests/s`]);
  }
  const c = result.companion;
  if (c) {
    const path = scenario.companion.path;
    rows.push(
      [`${path} alongside: 2xx/s`, fmtRate(c.rate)],
      [`${path} alongside: p50 / p99`, `${ms(c.latencyP50)} / ${ms(c.latencyP99)}`],
      [`${path} alongside: errors / non-2xx`, `${c.errors} / ${c.non2xx}`],
    );
  }
  return table(['metric', 'value'], rows);
}

function scenarioSection(scenario, result) {
  const head = `### \`${scenario.name}\`: ${scenario.title}\n\nServer: ${servers[scenario.server].title}. Request: \`${scenario.request.method} ${scenario.request.path}\`.${scenario.note ? `\n\n${scenario.note}` : ''}`;
  if (!result) return `${head}\n\n_Not run._`;
  if (result.skipped) return `${head}\n\n_Skipped: ${result.skipped}._`;
  if (result.error) return `${head}\n\n**ERROR**: ${result.error}`;
  return `${head}\n\n${scenarioDetail(scenario, result)}`;
}

function headersSection(scenarios, results) {
  const bare = results.bare;
  const rows = scenarios.filter((s) => s.section === 'headers' || s.name === 'bare').map((s) => {
    const r = results[s.name];
    if (!r || r.skipped || r.error) return [`\`${s.name}\``, r?.skipped ?? r?.error ?? 'not run', '', '', '', '', '', '', ''];
    const ratio = bare && !bare.skipped && !bare.error ? r.rate / bare.rate : NaN;
    const headerCount = r.info?.headers ? Object.keys(r.info.headers).length : '—';
    const perCpuRatio = bare?.perCpuSecond ? r.perCpuSecond / bare.perCpuSecond : NaN;
    return [`\`${s.name}\``, fmtRate(r.rate), pct(ratio), fmtRate(r.perCpuSecond), pct(perCpuRatio), ms(r.latencyP50), ms(r.latencyP99), mib(r.peakRssBytes), String(headerCount)];
  });
  const helmet = results['headers-helmet'];
  const ours = results['headers-gatehouse'];
  let verdict = '';
  if (helmet?.rate && ours?.rate) {
    const gain = ours.rate / helmet.rate - 1;
    const cpuGain = ours.perCpuSecond / helmet.perCpuSecond - 1;
    const word = (g) => `${pct(Math.abs(g))} ${g >= 0 ? 'more' : 'fewer'}`;
    verdict = `\n\nOn this run Gatehouse's \`securityHeaders\` served ${word(gain)} requests/s than \`@fastify/helmet\` on the same
route, and ${word(cpuGain)} requests per CPU-second of its server process (the steadier figure on a shared machine).`;
  }
  const headerLists = scenarios.filter((s) => s.section === 'headers' && results[s.name]?.info?.headers).map((s) => {
    const h = results[s.name].info.headers;
    return `\`${s.name}\` sends:\n\n${table(['header', 'value'], Object.entries(h).map(([k, v]) => [`\`${k}\``, `\`${v.replace(/\|/g, '\\|')}\``]))}`;
  });
  return `## Security headers: \`@fastify/helmet\` vs Gatehouse \`securityHeaders\`

A one-off comparison for the design note behind \`src/plugins/security-headers.ts\`: the same bare route, the same
load, once with \`@fastify/helmet\` (static CSP \`default-src 'none'; frame-ancestors 'none'\`, HSTS off) and once with
Gatehouse's own plugin (\`dist/plugins/security-headers.js\`, \`{ hsts: false }\`), each in its own process. No budget.

${table(['scenario', '2xx/s', 'vs bare', '2xx per server CPU-s', 'vs bare', 'p50', 'p99', 'peak RSS', 'security headers set'], rows)}${verdict}

${headerLists.join('\n\n')}`;
}

export function renderMarkdown({ machine, load, scenarios, results, probeResults, budgets, startup }) {
  const machineTable = table(['', ''], [
    ['CPU', `${machine.cpu} (${machine.cores} cores)`], ['Memory', machine.memory], ['OS', machine.os],
    ['Node', machine.node], ['autocannon', machine.autocannon], ['Date', machine.date],
    ['Load average at start (1/5/15 min)', machine.loadAverage],
  ]);
  const budgetTable = table(['scenario', 'measure', 'budget', 'measured', 'result', 'same ratio per CPU-second (informative)'],
    budgets.map((b) => [`\`${b.scenario}\``, b.label, b.budget, b.measured, statusCell(b.status), b.perCpu]));
  const failed = budgets.filter((b) => b.status === 'FAIL' || b.status === 'ERROR');
  const noisy = scenarios.filter((s) => results[s.name]?.cpu?.other > NOISY_OTHER);
  const noise = noisy.length
    ? `\n> **Noisy run:** other processes used more than ${pct(NOISY_OTHER)} of the machine during ${noisy.map((s) => `\`${s.name}\` (${pct(results[s.name].cpu.other)})`).join(', ')}; rerun on a quiet machine before trusting those figures.\n`
    : '';
  const probeLines = Object.entries(probeResults).map(([name, p]) => `- \`${name}\`: ${probes[name].title}: **${fmtRate(p.value)} ${probes[name].unit}** (${p.detail}).`);
  const startupTable = table(['server', 'runs (ms)', 'median'], Object.entries(startup).map(([name, runs]) =>
    [servers[name].title, runs.map((v) => v.toFixed(0)).join(', '), `**${median(runs).toFixed(0)} ms**`]));

  return `# Benchmarks

Generated by \`npm run bench\` (\`bench/run.mjs\`); rerun it to refresh this page and \`benchmarks.svg\`, do not edit by hand.
Where a request's time goes, what was optimised and what was not: [performance.md](performance.md).
${failed.length ? `\n**${failed.length} budget(s) FAILED: ${failed.map((b) => `\`${b.scenario}\` (${b.label})`).join(', ')}.**\n` : '\nAll budgets that ran passed.\n'}${noise}
## Machine

${machineTable}

## How it was measured

- Every server is its own child process on 127.0.0.1; the scenarios run one after the other, never at the same
  time. The load generator (autocannon, programmatic API, one thread) runs on the same ${machine.cores} cores, so it takes
  part of the CPU the server could use: compare the ratios, not the absolute figures, with other machines.
- Each scenario: ${load.warmup} s warm-up (discarded), then ${load.duration} s measured, ${load.connections} connections, pipelining ${load.pipelining}.
- A ratio budget against \`bare\` divides by the bare route measured **just before and just after** that scenario (the
  mean of the two runs, on a bare server kept running beside it, idle while the other is loaded), not by the single
  \`bare\` scenario at the top: this machine's speed drifts by up to a third within minutes, and a ratio against a
  baseline taken minutes earlier measured that drift as much as the stack.
- The rate of a scenario is its \`2xx\` responses per second of the measured part: a shed \`503\` or a \`429\` is fast
  and is not throughput. autocannon's mean of all responses per second is shown beside it.
- Latency percentiles are nearest-rank over every \`2xx\` response of the measured part, kept as floats (autocannon's own
  histogram rounds to whole milliseconds). Peak RSS is the highest \`VmRSS\` of the server process, sampled every
  50 ms during the measured part.
- CPU is the share of the whole machine (all cores) used during the measured part by the server, by the load
  generator and by everything else (\`/proc/stat\`, steal included); a large "other" means a noisy figure.
  "Per server CPU-second" divides the \`2xx\` count by the CPU time the server process burned (all its threads),
  and the argon2 probe's count by the CPU time of its hashing. Budgets judge the raw rates; the per-CPU ratios
  beside them are informative only, and hold up better when other jobs share the machine.
- Gatehouse runs as \`node bin/gatehouse.cjs serve\`: a fresh temp \`DATA_DIR\` (embedded SQLite), a fixed strong
  \`SECRET_KEY\`, development mode (plain HTTP), \`RATE_LIMIT_DEFAULT=1000000000/minute\` so the limiter runs on every
  request but never refuses, \`LOG_LEVEL=info\` with its log written to a temp file. \`login-storm\` gets its own server
  with \`RATE_LIMIT_AUTH=1000000000/minute\` and \`LOCKOUT_THRESHOLD=1000\`.

![requests/s per scenario](benchmarks.svg)

## Budgets

${budgetTable}
${probeLines.length ? `\nMeasured in the same run:\n\n${probeLines.join('\n')}\n` : ''}
## Scenarios

${scenarios.filter((s) => s.section !== 'headers').map((s) => scenarioSection(s, results[s.name])).join('\n\n')}

## Start-up time

Spawn to the first \`200\` from the ready route (\`/healthz\`, or \`/bare\` for the bare server), polled every 2 ms;
each run in a fresh \`DATA_DIR\`, so Gatehouse's figure includes creating and migrating the SQLite database.

${startupTable}

${headersSection(scenarios, results)}
`;
}

/** The terminal summary: every scenario in one table, then the budgets, then start-up. */
export function renderStdout({ scenarios, results, budgets, startup }) {
  const rows = scenarios.map((s) => {
    const r = results[s.name];
    if (!r || r.skipped || r.error) return [s.name, r?.skipped ? 'skipped' : 'ERROR', '', '', '', '', '', '', ''];
    return [s.name, `${fmtRate(r.rate)} ${s.unit ?? 'req/s'}`, ms(r.latencyP50), ms(r.latencyP99), `${r.errors}/${r.timeouts}`, String(r.non2xx), fmtRate(r.perCpuSecond), mib(r.peakRssBytes), cpuText(r.cpu)];
  });
  const out = [
    textTable(['scenario', 'rate', 'p50', 'p99', 'err/timeout', 'non-2xx', '2xx/server CPU-s', 'peak RSS', 'CPU server/loadgen/other'], rows),
    '',
    textTable(['scenario', 'measure', 'budget', 'measured', 'result', 'per CPU-s'], budgets.map((b) => [b.scenario, b.label, b.budget, b.measured, b.status, b.perCpu])),
    '',
    textTable(['start-up', 'median', 'runs (ms)'], Object.entries(startup).map(([n, runs]) => [n, `${median(runs).toFixed(0)} ms`, runs.map((v) => v.toFixed(0)).join(', ')])),
  ];
  for (const s of scenarios) if (results[s.name]?.skipped) out.push(`note: ${s.name} skipped: ${results[s.name].skipped}`);
  for (const s of scenarios) if (results[s.name]?.error) out.push(`ERROR: ${s.name}: ${results[s.name].error}`);
  return out.join('\n');
}
