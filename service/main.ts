#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runCommand } from './commands/run.ts';
import { listComponentsCommand } from './commands/list-components.ts';
import { validateCommand } from './commands/validate.ts';
import { ConfigError, toError } from './errors.ts';
import { LOG_LEVELS } from './logger.ts';
import type { LogLevel } from './logger.ts';
import { readPackageVersion } from './version.ts';

/** Exit codes: 0 done, 1 runtime failure, 2 bad configuration or usage. */
const EXIT_CONFIG = 2;

function parseLogLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return value as LogLevel;
}

/** Builds the `inframeter` command line. `exit` receives the final exit code. */
export function createProgram(exit: (code: number) => void): Command {
  const program = new Command('inframeter')
    .description('OpenTelemetry-native metrics collector for infrastructure')
    .version(readPackageVersion(), '-v, --version')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run the collector (the embedded default pipeline when no --config is given)')
    .option('-c, --config <file>', 'YAML configuration file')
    .addOption(
      new Option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`).argParser(parseLogLevel),
    )
    .action(async (options: { config?: string; logLevel?: LogLevel }) => {
      exit(await runCommand(options, process.stdout));
    });

  program
    .command('validate')
    .description('check a configuration file without starting anything')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .action((options: { config: string }) => {
      validateCommand(options.config, process.stdout);
      exit(0);
    });

  program
    .command('components')
    .description('list every component type with its config keys and defaults')
    .action(() => {
      listComponentsCommand(process.stdout);
      exit(0);
    });

  return program;
}

/** Runs the CLI; the only place that exits the process. */
async function main(argv: readonly string[]): Promise<void> {
  let code = 0;
  const program = createProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; a usage error is a configuration error.
      code = error.exitCode === 0 ? 0 : EXIT_CONFIG;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`inframeter: ${error.message}\n`);
      code = EXIT_CONFIG;
    } else if (code === 0) {
      process.stderr.write(`inframeter: ${toError(error).message}\n`);
      code = 1;
    }
  }
  process.exit(code);
}

await main(process.argv);
