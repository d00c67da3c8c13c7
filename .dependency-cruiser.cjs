/**
 * The layers of DESIGN.md as rules: each folder of src/ may import only the folders listed for
 * it (and itself); type-only imports count too; no import cycles anywhere.
 * `npm run lint:deps` checks them; `.ci/run` runs it.
 */
const LAYERS = {
  protocol: [],
  input: ['protocol'],
  buffers: ['protocol'],
  media: ['protocol', 'input'],
  metrics: [],
  // The scenario, defined once (schema, resolution, type): results record it, so it sits below
  // them; it checks its `server` section with the server's own settings schema, that one file.
  scenario: ['input', 'protocol', 'server/config.ts'],
  results: ['metrics', 'input', 'protocol', 'scenario', 'version.ts'],
  proc: [],
  server: ['protocol', 'buffers', 'media', 'metrics', 'input', 'version.ts'],
  client: ['protocol', 'buffers', 'media', 'input'],
  // The generator validates a scenario's `server` section with the server's own settings
  // schema: that one file of the server, nothing else of it.
  // It reads the built-in server's /stats in the shape the server defines (server-stats.ts).
  load: ['client', 'media', 'metrics', 'results', 'scenario', 'proc', 'input', 'protocol', 'buffers', 'version.ts', 'server/config.ts', 'server/server-stats.ts'],
  lab: ['load', 'results', 'scenario', 'metrics', 'proc', 'input', 'client', 'media', 'protocol', 'buffers', 'version.ts', 'server/config.ts'],
  report: ['results', 'scenario', 'metrics', 'input', 'protocol', 'version.ts'],
  cli: ['protocol', 'input', 'buffers', 'media', 'metrics', 'scenario', 'results', 'proc', 'server', 'client', 'load', 'lab', 'report', 'version.ts'],
};

const escape = (s) => s.replace(/[.]/g, '\\.');
const target = (t) => (t.endsWith('.ts') ? `^src/${escape(t)}$` : `^src/${t}/`);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: two modules that need each other belong together, or one of them holds two concerns.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...Object.entries(LAYERS).map(([layer, allowed]) => ({
      name: `layer-${layer}`,
      severity: 'error',
      comment: `src/${layer}/ may import ${allowed.length === 0 ? 'nothing of ours' : allowed.join(', ')} (DESIGN.md, Layers)`,
      from: { path: `^src/${layer}/` },
      to: { path: '^src/', pathNot: [`^src/${layer}/`, ...allowed.map(target)] },
    })),
    {
      name: 'cli-is-the-top',
      severity: 'error',
      comment: 'Nothing but the entry points imports the CLI.',
      from: { path: '^src/', pathNot: ['^src/cli/', '^src/index\\.ts$'] },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] },
    moduleSystems: ['es6'],
  },
};
