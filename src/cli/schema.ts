import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { UNIT_META_KEY, unitJsonSchema } from '../input/schema-units.js';
import { scenarioSchema } from '../load/scenario.js';
import { serverConfigSchema } from '../server/config.js';

/**
 * The JSON Schema of scenario files (draft 2020-12), for editors: with the YAML language
 * server, `# yaml-language-server: $schema=./scenario.schema.json` at the top of a file gives
 * completion and checking. Fields written with units accept numbers or strings ("30s"), and
 * `server` is described by the built-in server's own settings.
 */
export function scenarioJsonSchema(): Record<string, unknown> {
  const convert = (schema: z.ZodType) =>
    z.toJSONSchema(schema, {
      io: 'input',
      unrepresentable: 'any',
      override: (ctx) => {
        const unit = (z.globalRegistry.get(ctx.zodSchema) as Record<string, unknown> | undefined)?.[UNIT_META_KEY];
        if (typeof unit === 'string') {
          const js = ctx.jsonSchema as { minimum?: number; maximum?: number };
          const replacement = unitJsonSchema(unit, {
            ...(js.minimum !== undefined ? { minimum: js.minimum } : {}),
            ...(js.maximum !== undefined ? { maximum: js.maximum } : {}),
          });
          for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[k];
          Object.assign(ctx.jsonSchema, replacement);
        }
      },
    }) as Record<string, unknown>;
  const scenario = convert(scenarioSchema);
  const server = convert(serverConfigSchema);
  delete server.$schema;
  delete server.required;
  // The run chooses the server's address itself.
  const serverProps = server.properties as Record<string, unknown>;
  delete serverProps.host;
  delete serverProps.port;
  const props = scenario.properties as Record<string, unknown>;
  props.server = { ...server, description: 'Settings of the built-in server (the keys of `rtmpbench serve --config`)' };
  return { $id: 'urn:rtmpbench:scenario', title: 'rtmpbench scenario', ...scenario };
}

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of scenario files (for editors)')
    .option('--out <file>', 'write it to a file instead of stdout')
    .action((flags: { out?: string }) => {
      const text = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
      if (flags.out !== undefined) writeFileSync(flags.out, text);
      else process.stdout.write(text);
    });
}
