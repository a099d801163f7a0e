// docs/benchmarks.svg: a horizontal bar chart of the rate of every scenario that ran, as plain SVG text.
const COLOURS = { baseline: '#8a8f98', stack: '#2f6fb0', headers: '#c7792b' };

const escapeXml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);

/**
 * `bars`: [{ label, value, valueText, kind: 'baseline' | 'stack' | 'headers' }]. One shared scale from 0,
 * so a bar's length compares directly with the bare baseline's.
 */
export function barChartSvg({ title, subtitle, bars }) {
  const width = 760;
  const labelWidth = 170;
  const valueWidth = 150;
  const barArea = width - labelWidth - valueWidth - 20;
  const rowHeight = 30;
  const top = 58;
  const height = top + bars.length * rowHeight + 34;
  const max = Math.max(1, ...bars.map((b) => b.value));

  const rows = bars.map((bar, i) => {
    const y = top + i * rowHeight;
    const length = Math.max(1, Math.round((bar.value / max) * barArea));
    return [
      `  <text x="${labelWidth - 10}" y="${y + 19}" text-anchor="end" class="label">${escapeXml(bar.label)}</text>`,
      `  <rect x="${labelWidth}" y="${y + 5}" width="${length}" height="${rowHeight - 10}" rx="2" fill="${COLOURS[bar.kind] ?? COLOURS.stack}"/>`,
      `  <text x="${labelWidth + length + 8}" y="${y + 19}" class="value">${escapeXml(bar.valueText)}</text>`,
    ].join('\n');
  });

  const legendY = height - 14;
  const legend = [['baseline', 'bare Fastify'], ['stack', 'Gatehouse, full stack'], ['headers', 'headers comparison']]
    .map(([kind, text], i) => {
      const x = labelWidth + i * 190;
      return `  <rect x="${x}" y="${legendY - 10}" width="12" height="12" fill="${COLOURS[kind]}"/>\n  <text x="${x + 18}" y="${legendY}" class="legend">${escapeXml(text)}</text>`;
    });

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">
  <style>
    text { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill: #222; }
    .title { font-size: 16px; font-weight: 600; }
    .subtitle, .legend { font-size: 12px; fill: #555; }
    .label { font-size: 13px; font-family: ui-monospace, Menlo, Consolas, monospace; }
    .value { font-size: 12px; }
  </style>
  <rect width="100%" height="100%" fill="#ffffff"/>
  <text x="12" y="24" class="title">${escapeXml(title)}</text>
  <text x="12" y="42" class="subtitle">${escapeXml(subtitle)}</text>
  <line x1="${labelWidth}" y1="${top}" x2="${labelWidth}" y2="${top + bars.length * rowHeight}" stroke="#bbb"/>
${rows.join('\n')}
${legend.join('\n')}
</svg>
`;
}
