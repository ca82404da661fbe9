import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { ReachOptions, experimentStart } from './commands/experiment.ts';
import type { FilterOptions, resultsSummary } from './commands/results.ts';
import { ConfigError, toError } from '../kit/errors.ts';
import { LOG_LEVELS } from '../kit/logger.ts';
import type { LogLevel } from '../kit/logger.ts';
import { readPackageVersion } from '../kit/version.ts';

/** Exit codes: 0 done, 1 runtime failure, 2 bad configuration or usage. */
const EXIT_CONFIG = 2;

function parseLogLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return value as LogLevel;
}

// Each command's module is loaded when the command runs: `run`, `validate` and `components`
// load every component (seconds on a busy machine), which `results` and `experiment` need not.
const runModule = () => import('./commands/run.ts');
const experimentModule = () => import('./commands/experiment.ts');
const resultsModule = () => import('./commands/results.ts');

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
    .option(
      '--kwollector-config <file>',
      "a kwollector's configuration file, as it is: its metrics.d into its database",
    )
    .option(
      '--kwollector-wattmetre-config <file>',
      "a kwollector-wattmetre's configuration file, as it is: wattmetre frames on standard input into its database",
    )
    .addOption(
      new Option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`).argParser(parseLogLevel),
    )
    .action(
      async (options: {
        config?: string;
        kwollectorConfig?: string;
        kwollectorWattmetreConfig?: string;
        logLevel?: LogLevel;
      }) => {
        exit(await (await runModule()).runCommand(options, process.stdout));
      },
    );

  program
    .command('validate')
    .description('check a configuration file without starting anything')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('--kwollector-config <file>', "a kwollector's configuration file")
    .option('--kwollector-wattmetre-config <file>', "a kwollector-wattmetre's configuration file")
    .action(
      async (options: { config?: string; kwollectorConfig?: string; kwollectorWattmetreConfig?: string }) => {
        if (
          options.config === undefined &&
          options.kwollectorConfig === undefined &&
          options.kwollectorWattmetreConfig === undefined
        )
          throw new ConfigError(['give --config, --kwollector-config or --kwollector-wattmetre-config']);
        const { validateCommand } = await import('./commands/validate.ts');
        await validateCommand(
          {
            config: options.config,
            kwollector: options.kwollectorConfig,
            kwollectorWattmetre: options.kwollectorWattmetreConfig,
          },
          process.stdout,
        );
        exit(0);
      },
    );

  program
    .command('components')
    .description('list every component type with its config keys and defaults')
    .action(async () => {
      // Loads every component: only this command needs them all.
      const { listComponentsCommand } = await import('./commands/list-components.ts');
      listComponentsCommand(process.stdout);
      exit(0);
    });

  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
  const reach = (command: Command): Command =>
    command
      .option('--hosts <list>', 'collectors, comma-separated host:port of their control API')
      .option('--hosts-file <file>', 'collectors, one host:port per line')
      .option('--proxy <host:port>', 'reach the collectors through this collector (its /proxy route)')
      .option('--k8s-selector <selector>', 'the collectors are the pods matching this label selector')
      .option('-n, --namespace <namespace>', 'namespace of those pods', 'default')
      .option('--k8s-port <port>', 'control API port in those pods', '9470')
      .option('--token <token>', 'bearer token of the control API (default: $INFRAMETER_TOKEN)');

  const experiment = program
    .command('experiment')
    .description(
      'start and stop collection under an experiment name on many collectors, and get one CSV back',
    );
  reach(experiment.command('start <name>').description('start an experiment on every collector'))
    .option('--label <key=value>', 'label added to every point (repeatable)', collect)
    .option('--interval <duration>', 'collection interval while it runs, e.g. 1s')
    .option('--receivers <ids>', 'only these receivers, comma-separated')
    .action(async (name: string, options: Parameters<typeof experimentStart>[1]) => {
      exit(await (await experimentModule()).experimentStart(name, options, process.stdout));
    });
  reach(experiment.command('stop <name>').description('stop it everywhere, pull every result and merge them'))
    .requiredOption('-o, --out <file>', 'the merged results, .csv or .parquet')
    .action(async (name: string, options: ReachOptions & { out: string }) => {
      exit(
        await (
          await experimentModule()
        ).experimentCollect(name, options, true, process.stdout, process.stderr),
      );
    });
  reach(
    experiment
      .command('pull <name>')
      .description('pull and merge results again (fetches only what is missing)'),
  )
    .requiredOption('-o, --out <file>', 'the merged results, .csv or .parquet')
    .action(async (name: string, options: ReachOptions & { out: string }) => {
      exit(
        await (
          await experimentModule()
        ).experimentCollect(name, options, false, process.stdout, process.stderr),
      );
    });
  reach(
    experiment
      .command('delete <name>')
      .description('delete a stopped experiment and its results on every collector'),
  ).action(async (name: string, options: ReachOptions) => {
    exit(await (await experimentModule()).experimentDelete(name, options, process.stdout));
  });
  reach(experiment.command('list').description('experiments on every collector')).action(
    async (options: ReachOptions) => {
      exit(await (await experimentModule()).experimentList(options, process.stdout));
    },
  );

  const results = program
    .command('results')
    .description('summaries, plots and reports of experiment results (CSV or Parquet)');
  const filters = (command: Command): Command =>
    command
      .option('--metric <name>', 'only this metric (repeatable)', collect)
      .option('--host <name>', 'only this host (repeatable)', collect)
      .option('--collector <id>', 'only this collector (repeatable)', collect)
      .option('--from <time>', 'from this time (ISO 8601)')
      .option('--to <time>', 'up to this time (ISO 8601)')
      .option('--attr <key=value>', 'only points with this attribute value (repeatable)', collect);
  filters(
    results
      .command('summary <file>')
      .description('count, mean, min, max and counter rates per metric, host and collector'),
  )
    .option('--p95', 'also the 95th percentile (approximate, t-digest; slower)')
    .option('--json', 'print JSON')
    .action(async (file: string, options: Parameters<typeof resultsSummary>[1]) => {
      exit(await (await resultsModule()).resultsSummary(file, options, process.stdout));
    });
  filters(
    results
      .command('plot <file>')
      .description('one chart per --metric, a line per host, as SVG, PNG or PDF (by the name of --out)'),
  )
    .option('-o, --out <file>', 'output file, .svg, .png or .pdf (default METRIC.svg)')
    .option('--no-rate', 'draw counters as they are, not as rates')
    .action(async (file: string, options: FilterOptions & { out?: string; rate?: boolean }) => {
      if (options.metric === undefined) throw new InvalidArgumentError('--metric is required');
      exit(
        await (
          await resultsModule()
        ).resultsPlot(file, { ...options, metric: options.metric }, process.stdout),
      );
    });
  results
    .command('convert <input> <output>')
    .description('rewrite results as .csv or .parquet (by the name of the output)')
    .action(async (input: string, output: string) => {
      exit(await (await resultsModule()).resultsConvert(input, output, process.stdout));
    });
  results
    .command('report <file>')
    .description('one self-contained HTML page with the main charts and a table of the hosts')
    .requiredOption('-o, --out <file>', 'the HTML file')
    .option('--title <text>', 'page title')
    .action(async (file: string, options: { out: string; title?: string }) => {
      exit(await (await resultsModule()).resultsReport(file, options, process.stdout));
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
  // Exit once stdout is written out: a pipe (`results summary --json | jq`) is asynchronous.
  process.stdout.write('', () => {
    process.exit(code);
  });
}

await main(process.argv);
