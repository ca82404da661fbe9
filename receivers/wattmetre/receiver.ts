import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { ComponentSettings, MetricSink, Receiver } from '../../kit/component.ts';
import { formatHostPort } from '../../kit/config-types.ts';
import { ErrorLog } from '../../kit/error-log.ts';
import { ConfigError, toError } from '../../kit/errors.ts';
import { exportBatch } from '../../kit/scrape-controller.ts';
import type { Mode, WattmetreConfig } from './config.ts';
import { MODES } from './config.ts';
import { parseMapping } from './parse/mapping.ts';
import type { Source, SourceEvents } from './source.ts';
import { startSource } from './source.ts';
import { WattmetreState } from './state.ts';

/**
 * The `wattmetre` receiver, a stream receiver: frames of `wattmetre-read` arrive many
 * times a second; every `flush_interval` the samples collected since the last push go into
 * the pipeline, each with its own timestamp. Modes per device switch at run time through
 * the control endpoint.
 */
export class WattmetreReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: WattmetreConfig;
  readonly #start: (config: WattmetreConfig, events: SourceEvents) => Source;
  readonly #modes = new Map<string, Mode>();
  readonly #errors: ErrorLog;
  #state: WattmetreState | undefined;
  #source: Source | undefined;
  #timer: NodeJS.Timeout | undefined;
  #server: Server | undefined;
  #next: MetricSink | undefined;
  #pushing: Promise<void> = Promise.resolve();

  constructor(settings: ComponentSettings, config: WattmetreConfig, start = startSource) {
    this.#settings = settings;
    this.#config = config;
    this.#start = start;
    this.#errors = new ErrorLog(settings.logger);
    for (const [k, v] of Object.entries(config.modes)) this.#modes.set(k, v);
  }

  /** The mode of a device (or of an unmapped port). */
  modeOf(key: string): Mode {
    return this.#modes.get(key) ?? this.#config.default_mode;
  }

  setMode(key: string, mode: Mode): void {
    this.#modes.set(key, mode);
    this.#settings.logger.info({ device: key, mode }, 'wattmetre mode switched');
  }

  get controlAddress(): { host: string; port: number } | undefined {
    const a = this.#server?.address();
    return a === null || a === undefined || typeof a === 'string'
      ? undefined
      : { host: a.address, port: a.port };
  }

  async start(next: MetricSink): Promise<void> {
    this.#next = next;
    let devices = new Map<string, string>();
    const key = this.#config.mapping_file === undefined ? 'mapping_file_path' : 'mapping_file';
    const mappingFile = this.#config.mapping_file ?? this.#config.mapping_file_path;
    if (mappingFile !== undefined && mappingFile !== '') {
      try {
        devices = parseMapping(readFileSync(mappingFile, 'utf8'), mappingFile);
      } catch (error) {
        throw new ConfigError([`${key}: ${toError(error).message}`]);
      }
    }
    const state = new WattmetreState(
      this.#config.wattmetre_id,
      devices,
      (key) => this.modeOf(key),
      this.#config.max_gap / 1000,
      Date.now() / 1000,
    );
    this.#state = state;
    const control = this.#config.control_endpoint;
    if (control !== undefined) await this.#listen(control.host, control.port);
    this.#source = this.#start(this.#config, {
      line: (text) => {
        const outcome = state.line(text);
        if (outcome.kind === 'valid') {
          this.#errors.recovered('frame');
          if (outcome.gap !== undefined)
            this.#settings.logger.warn(
              { seconds: Number(outcome.gap.toFixed(3)) },
              'wattmetre: gap between frames',
            );
        } else {
          // Once per kind of bad line, then a count a minute: never a line per frame.
          this.#errors.report(
            'frame',
            new Error(`invalid frame (${outcome.kind}): ${outcome.detail}`),
            outcome.kind,
          );
        }
      },
      oversized: (length) => {
        state.oversized();
        this.#errors.report(
          'frame',
          new Error(`a line of ${String(length)} characters without newline was dropped`),
          'oversized',
        );
      },
      restart: (reason, delayMs) => {
        state.restarted();
        this.#errors.report('source', new Error(`${reason}; again in ${String(delayMs)} ms`));
      },
    });
    this.#timer = setInterval(() => {
      this.#push(false);
    }, this.#config.flush_interval);
    this.#timer.unref();
  }

  #push(final: boolean): void {
    const state = this.#state;
    const next = this.#next;
    if (state === undefined || next === undefined) return;
    const { batch, samples } = state.drain(this.#settings.resource, final);
    for (const scope of batch.scopeMetrics)
      scope.metrics = scope.metrics.filter((m) => this.#config.metrics.has(m.descriptor.name));
    this.#settings.telemetry.received(samples);
    // One push at a time, in order.
    this.#pushing = this.#pushing.then(async () => {
      const result = await exportBatch(next, batch);
      if (result.ok) this.#settings.telemetry.exported(samples);
      else {
        this.#settings.telemetry.failed(samples);
        this.#errors.report('export', result.error ?? new Error('export failed'));
      }
    });
  }

  #listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://control');
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(body)}\n`);
      };
      if (req.method === 'GET' && url.pathname === '/devices') {
        reply(200, { default_mode: this.#config.default_mode, modes: Object.fromEntries(this.#modes) });
        return;
      }
      const match = /^\/devices\/([^/]+)\/mode$/.exec(url.pathname);
      if (match === null || req.method !== 'PUT') {
        reply(404, { error: 'use GET /devices or PUT /devices/NAME/mode' });
        return;
      }
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const mode = body.trim().replace(/^"|"$/g, '');
        if (!(MODES as readonly string[]).includes(mode)) {
          reply(400, { error: `mode must be one of ${MODES.join(', ')}` });
          return;
        }
        const device = decodeURIComponent(match[1] ?? '');
        this.setMode(device, mode as Mode);
        reply(200, { device, mode });
      });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        this.#settings.logger.info(
          { endpoint: formatHostPort(this.controlAddress ?? { host, port }) },
          'wattmetre control endpoint',
        );
        resolve();
      });
    });
  }

  async shutdown(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#source?.stop();
    this.#source = undefined;
    this.#push(true);
    await this.#pushing;
    this.#state = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
  }
}
