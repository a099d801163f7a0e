// Budget checks: each scenario's `budget` entries against the measured results → PASS / FAIL / SKIPPED / ERROR.
import { probes } from './scenarios.mjs';

/** Reads 'companion.latencyP99' style paths out of a result. */
function pick(result, path) {
  return path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), result);
}

/** The reference's rate: measured around this scenario when it was (bench/run.mjs), else its own run. */
function rateOf(name, results, probeResults, result) {
  if (probeResults[name]) return { value: probeResults[name].value, perCpuSecond: probeResults[name].perCpuSecond, unit: probes[name].unit };
  const paired = result?.paired?.[name];
  if (paired && paired.rate > 0) return { value: paired.rate, perCpuSecond: paired.perCpuSecond, unit: '2xx/s' };
  const other = results[name];
  if (other && !other.skipped && !other.error) return { value: other.rate, perCpuSecond: other.perCpuSecond, unit: '2xx/s' };
  return undefined;
}

/**
 * One row per budget entry: { scenario, label, budget, measured, perCpu, status }. `perCpu` is the same ratio per
 * CPU-second each side burned: informative only, but it survives a machine shared with other jobs. A skipped scenario's budgets
 * are SKIPPED (the endpoint is not built yet), never PASS.
 */
export function evaluateBudgets(scenarios, results, probeResults) {
  const rows = [];
  for (const scenario of scenarios) {
    if (!scenario.budget) continue;
    const result = results[scenario.name];
    for (const budget of [scenario.budget].flat()) {
      const row = { scenario: scenario.name, label: budget.label, budget: '', measured: '—', perCpu: '—', status: 'SKIPPED' };
      rows.push(row);
      if (budget.ratioOf) {
        row.label ??= `2xx/s ÷ ${budget.ratioOf} 2xx/s`;
        row.budget = `≥ ${Math.round(budget.min * 100)} % of ${budget.ratioOf}`;
      } else {
        row.label ??= budget.metric;
        row.budget = budget.max !== undefined ? `< ${budget.max} ${budget.unit ?? ''}`.trim() : `≥ ${budget.min} ${budget.unit ?? ''}`.trim();
      }
      if (!result || result.skipped) continue;
      if (result.error) {
        row.status = 'ERROR';
        continue;
      }
      if (budget.ratioOf) {
        const other = rateOf(budget.ratioOf, results, probeResults, result);
        if (!other || !(other.value > 0)) {
          row.status = 'ERROR';
          row.measured = `no ${budget.ratioOf} figure`;
          continue;
        }
        const ratio = result.rate / other.value;
        row.measured = `${(ratio * 100).toFixed(1)} % (${fmtRate(result.rate)} ÷ ${fmtRate(other.value)})`;
        row.status = ratio >= budget.min ? 'PASS' : 'FAIL';
        const perCpu = result.perCpuSecond / other.perCpuSecond;
        if (Number.isFinite(perCpu)) row.perCpu = `${(perCpu * 100).toFixed(1)} %`;
      } else {
        const value = pick(result, budget.metric);
        if (typeof value !== 'number' || Number.isNaN(value)) {
          row.status = 'ERROR';
          row.measured = 'no 2xx response to measure';
          continue;
        }
        row.measured = `${value.toFixed(2)} ${budget.unit ?? ''}`.trim();
        const ok = (budget.max === undefined || value < budget.max) && (budget.min === undefined || value >= budget.min);
        row.status = ok ? 'PASS' : 'FAIL';
      }
    }
  }
  return rows;
}

/** Rates: thousands separators, one decimal below 100 (logins/s are small numbers). */
export function fmtRate(value) {
  if (!Number.isFinite(value)) return '—';
  return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}
