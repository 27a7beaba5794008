// Checks every dashboard in dashboards/*.json without a Grafana server:
//
// 1. Our own structural checks: every panel type is one Grafana ships (a typo or a plugin that
//    must be installed separately fails), panel ids are unique, panels fit the 24-column grid and
//    do not overlap, every Prometheus query is non-empty with a unique refId, every query and
//    panel uses the `datasource` variable, every `$variable` used is defined.
// 2. Grafana's own schema types: each dashboard is written out as TypeScript, the dashboard
//    `satisfies Dashboard` from @grafana/schema and each panel `satisfies` the options and field
//    config types of its panel plugin (TimeSeries, Stat, Table, ...), then `tsc --noEmit --strict`
//    runs over it. Object literals get TypeScript's excess property checks, so misspelled keys,
//    wrong value types, missing required options and unknown enum values all fail.
//
// Usage: node dashboards/check/check.mjs [DASHBOARD.json ...]   (default: every dashboards/*.json)
// Exit 0 when everything passes; 1 with one line per problem otherwise.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dashboardsDir = resolve(here, '..');

// The panel plugins Grafana ships in its own image (core and bundled), as of Grafana 12. Panels
// of any other type need a plugin installed separately, which the compose stack does not do.
const GRAFANA_PANEL_TYPES = new Set([
  'alertlist', 'annolist', 'barchart', 'bargauge', 'candlestick', 'canvas', 'dashlist', 'datagrid',
  'flamegraph', 'gauge', 'geomap', 'gettingstarted', 'heatmap', 'histogram', 'live', 'logs', 'news',
  'nodeGraph', 'piechart', 'row', 'stat', 'state-timeline', 'status-history', 'table', 'text',
  'timeseries', 'traces', 'trend', 'welcome', 'xychart',
]);

// Panel type -> the module of its options and field config types in @grafana/schema.
const PANEL_CFG = {
  timeseries: ['TimeSeries', 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen', true],
  stat: ['Stat', 'stat/panelcfg/x/StatPanelCfg_types.gen', false],
  table: ['Table', 'table/panelcfg/x/TablePanelCfg_types.gen', true],
  bargauge: ['BarGauge', 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen', false],
  gauge: ['Gauge', 'gauge/panelcfg/x/GaugePanelCfg_types.gen', false],
  piechart: ['PieChart', 'piechart/panelcfg/x/PieChartPanelCfg_types.gen', true],
  heatmap: ['Heatmap', 'heatmap/panelcfg/x/HeatmapPanelCfg_types.gen', true],
  'state-timeline': ['StateTimeline', 'statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen', true],
  'status-history': ['StatusHistory', 'statushistory/panelcfg/x/StatusHistoryPanelCfg_types.gen', true],
  text: ['Text', 'text/panelcfg/x/TextPanelCfg_types.gen', false],
  barchart: ['BarChart', 'barchart/panelcfg/x/BarChartPanelCfg_types.gen', true],
  histogram: ['Histogram', 'histogram/panelcfg/x/HistogramPanelCfg_types.gen', true],
};

// Variables Grafana defines itself.
const BUILTIN_VARIABLES = new Set([
  '__interval', '__interval_ms', '__rate_interval', '__range', '__range_s', '__range_ms',
  '__from', '__to', '__dashboard', '__org', '__user', '__timeFilter', '__all', '__name',
]);

const problems = [];
const problem = (file, where, what) => problems.push(`${file}: ${where}: ${what}`);

function allPanels(dashboard) {
  const out = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    if (p.type === 'row') out.push(...(p.panels ?? []));
  }
  return out;
}

function variablesUsed(text) {
  const names = [];
  for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.push(m[1]);
  return names;
}

function structuralChecks(file, d) {
  const panels = allPanels(d);
  const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
  const ids = new Set();
  const cells = new Map();
  for (const p of panels) {
    const where = `panel ${p.id} "${p.title ?? ''}"`;
    if (!GRAFANA_PANEL_TYPES.has(p.type)) problem(file, where, `type "${p.type}" is not a panel Grafana ships`);
    if (typeof p.id !== 'number' || ids.has(p.id)) problem(file, where, 'id missing or not unique');
    ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1 || g.y < 0) {
      problem(file, where, `gridPos ${JSON.stringify(g)} outside the 24-column grid`);
    } else {
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const key = `${x},${y}`;
          if (cells.has(key)) problem(file, where, `overlaps panel ${cells.get(key)} at ${key}`);
          cells.set(key, p.id);
        }
      }
    }
    if (p.type === 'row') continue;
    if (!p.title) problem(file, where, 'no title');
    if (p.datasource?.uid !== '${datasource}') problem(file, where, 'panel datasource is not ${datasource}');
    const refIds = new Set();
    for (const t of p.targets ?? []) {
      if (!t.expr || !t.expr.trim()) problem(file, where, `target ${t.refId} has no expr`);
      if (refIds.has(t.refId)) problem(file, where, `refId ${t.refId} repeated`);
      refIds.add(t.refId);
      if (t.datasource?.uid !== '${datasource}') problem(file, where, `target ${t.refId} datasource is not \${datasource}`);
    }
    if ((p.targets ?? []).length === 0) problem(file, where, 'no queries');
  }
  const texts = [
    ...panels.flatMap((p) => (p.targets ?? []).map((t) => [`panel ${p.id}`, t.expr ?? ''])),
    ...(d.annotations?.list ?? []).map((a) => [`annotation "${a.name}"`, a.target?.expr ?? '']),
    ...(d.templating?.list ?? []).map((v) => [`variable ${v.name}`, typeof v.query === 'string' ? v.query : v.query?.query ?? '']),
  ];
  for (const [where, text] of texts) {
    for (const name of variablesUsed(text)) {
      if (!defined.has(name) && !BUILTIN_VARIABLES.has(name)) problem(file, where, `uses undefined variable $${name}`);
    }
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.builtIn) continue;
    if (a.datasource?.uid !== '${datasource}') problem(file, `annotation "${a.name}"`, 'datasource is not ${datasource}');
    if (!a.target?.expr) problem(file, `annotation "${a.name}"`, 'no target.expr');
  }
}

// --- The TypeScript rendering -------------------------------------------------------------

const PRELUDE = `// GENERATED by dashboards/check/check.mjs; not committed.
import type { Dashboard, DataQuery, DataSourceRef, FieldConfig, FieldConfigSource, Panel, RowPanel, AnnotationQuery } from '@grafana/schema';
IMPORTS
/** A Prometheus query as Grafana's Prometheus datasource saves it (its PromQuery type lives in
 * the datasource plugin, not in @grafana/schema). */
interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  exemplar?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  editorMode?: 'code' | 'builder';
}
/** A Prometheus annotation: the query in \`target\`, the plugin's own formatting fields beside it. */
type PromAnnotation = AnnotationQuery<PromQuery> & {
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
  step?: string;
};
/** The JSON form of a schema type: @grafana/schema declares many fields as TypeScript string
 * enums (ThresholdsMode.Absolute = 'absolute'), which a string from JSON never satisfies. This
 * maps each string enum to the union of its values (\`\${ThresholdsMode}\` = 'absolute' |
 * 'percentage'), so a JSON value must still be one of them. */
type Json<T> = T extends string
  ? \`\${T}\`
  : T extends Array<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;
/** A panel whose options and custom field config are those of its plugin. */
type Typed<O, F = Record<string, never>> = Omit<Panel, 'options' | 'targets' | 'fieldConfig' | 'datasource'> & {
  datasource: DataSourceRef;
  options: O;
  targets: PromQuery[];
  fieldConfig: Omit<FieldConfigSource, 'defaults'> & { defaults: Omit<FieldConfig, 'custom'> & { custom?: F } };
};
`;

function panelType(p) {
  if (p.type === 'row') return 'Json<RowPanel>';
  const cfg = PANEL_CFG[p.type];
  if (!cfg) return 'Json<Panel>';
  const [alias, , hasFieldConfig] = cfg;
  return hasFieldConfig ? `Json<Typed<${alias}.Options, ${alias}.FieldConfig>>` : `Json<Typed<${alias}.Options>>`;
}

function renderTs(d) {
  const used = new Set(allPanels(d).map((p) => p.type).filter((t) => PANEL_CFG[t]));
  const imports = [...used]
    .map((t) => `import type * as ${PANEL_CFG[t][0]} from '@grafana/schema/dist/esm/raw/composable/${PANEL_CFG[t][1]}';`)
    .join('\n');
  const lit = (v) => JSON.stringify(v, null, 2);
  // Each panel and annotation is its own const, checked against its own type: a literal nested
  // in the dashboard would also be checked against the dashboard's looser element types.
  const decls = [];
  const declare = (type, value) => {
    const name = `item${decls.length}`;
    decls.push(`const ${name} = ${value} satisfies ${type};`);
    return name;
  };
  const panel = (p) => {
    if (p.type === 'row') {
      const { panels, ...rest } = p;
      const inner = (panels ?? []).map(panel);
      return declare('Json<RowPanel>', `{ ...${lit(rest)}, panels: [${inner.join(', ')}] }`);
    }
    return declare(panelType(p), lit(p));
  };
  const { panels, annotations, ...rest } = d;
  const annos = (annotations?.list ?? []).map((a) =>
    declare(a.builtIn ? 'Json<AnnotationQuery>' : 'Json<PromAnnotation>', lit(a)));
  const top = (panels ?? []).map(panel);
  const head = declare('Json<Dashboard>', lit(rest));
  return (
    PRELUDE.replace('IMPORTS', imports) + '\n' + decls.join('\n\n') +
    `\n\nexport const dashboard = { ...${head}, annotations: { list: [${annos.join(', ')}] }, panels: [${top.join(', ')}] } satisfies Json<Dashboard>;\n`
  );
}

// --- main ---------------------------------------------------------------------------------

const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => resolve(f))
  : readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dashboardsDir, f));
if (files.length === 0) {
  console.error(`no dashboards found in ${dashboardsDir}`);
  process.exit(1);
}

// A directory of its own per run (runs may overlap), inside this package so that tsc resolves
// @grafana/schema from its node_modules; removed at exit.
const outDir = mkdtempSync(join(here, '.generated-'));
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
const tsFiles = [];
for (const file of files) {
  const name = basename(file);
  let d;
  try {
    d = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    problem(name, 'file', `not JSON: ${e.message}`);
    continue;
  }
  structuralChecks(name, d);
  const ts = join(outDir, name.replace(/\.json$/, '.ts'));
  writeFileSync(ts, renderTs(d));
  tsFiles.push(ts);
}
writeFileSync(
  join(outDir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
      skipLibCheck: true, exactOptionalPropertyTypes: false, noUncheckedIndexedAccess: true, types: [],
    },
    files: tsFiles.map((f) => basename(f)),
  }, null, 2),
);

const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc');
try {
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '-p', join(outDir, 'tsconfig.json')], {
    cwd: outDir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
  });
} catch (e) {
  if (e.code === 'ENOENT' || e.status === null) {
    problems.push(`cannot run tsc (${tsc}): ${e.message}; run \`npm ci\` in dashboards/check`);
  } else {
    for (const line of `${e.stdout}${e.stderr}`.split('\n').filter((l) => l.trim())) problems.push(`tsc: ${line}`);
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`${problems.length} problem(s) in ${files.length} dashboard(s)`);
  process.exit(1);
}
console.log(`${files.length} dashboard(s) OK: panel types, grid, queries, variables, @grafana/schema types (tsc --strict)`);
