import type { Command } from 'commander';
import { fieldAt, fieldHelp, flagValue, valueName } from '../input/schema-fields.js';
import {
  readServerConfigFile,
  resolveServerConfig,
  serverConfigSchema,
  type ServerConfigInput,
} from '../server/config.js';
import { RtmpServer } from '../server/server.js';

/** `serve` flags: one per server setting (kebab-case of its key), help and default from the schema. */
export const SERVE_SETTINGS = Object.keys(serverConfigSchema.shape).map((key) => {
  const field = fieldAt(serverConfigSchema, key)!;
  const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return { key: key as keyof ServerConfigInput, flag, field };
});

type ServeFlags = Record<string, string | undefined> & { config?: string };

/**
 * Flags given on the command line, converted; absent flags stay absent (the file or defaults
 * apply). Every unparseable flag is collected in `problems`.
 */
export function flagsToSettings(f: ServeFlags): { settings: ServerConfigInput; problems: string[] } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const s of SERVE_SETTINGS) {
    const raw = f[s.key];
    if (raw === undefined) continue;
    const v = flagValue(s.flag, s.field, raw);
    if ('problem' in v) problems.push(v.problem);
    else out[s.key] = v.value;
  }
  return { settings: out as ServerConfigInput, problems };
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'run the built-in RTMP server (prints "listening rtmp://HOST:PORT" when ready; SIGINT/SIGTERM stop it cleanly)',
    )
    .option('--config <file>', 'YAML or JSON file of settings (camelCase keys); flags override it');
  for (const s of SERVE_SETTINGS) cmd.option(`${s.flag} <${valueName(s.field)}>`, fieldHelp(s.field));
  cmd.action(async (flags: ServeFlags) => {
    const fromFile = flags.config !== undefined ? readServerConfigFile(flags.config) : {};
    const { settings, problems } = flagsToSettings(flags);
    const config = resolveServerConfig({ ...fromFile, ...settings } as ServerConfigInput, problems);
    const server = new RtmpServer(config);
    // Signal handlers go in before the listening line: a supervisor may signal right after it.
    let stopping = false;
    let stopped!: () => void;
    const done = new Promise<void>((r) => (stopped = r));
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        server.logger.warn('second signal: exiting now', { signal });
        process.exit(0);
      }
      stopping = true;
      server.logger.info('shutting down', { signal });
      void server.close().then(stopped);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const addr = await server.listen();
    process.stdout.write(`listening rtmp://${addr.host}:${addr.port}\n`);
    if (addr.tlsPort !== undefined) server.logger.info('listening', { url: `rtmps://${addr.host}:${addr.tlsPort}` });
    if (addr.statsPort !== undefined)
      server.logger.info('stats', { url: `http://${config.statsHost ?? addr.host}:${addr.statsPort}/stats` });
    await done;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
}
