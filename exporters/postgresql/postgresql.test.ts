import { describe, expect, it } from 'vitest';
import { createTestSettings } from '../../test/support/settings.ts';
import { configSchema } from './config.ts';
import { PostgresqlExporter } from './postgresql.ts';

describe('postgresql exporter lifecycle', () => {
  it('shuts down without start, and twice', async () => {
    const exporter = new PostgresqlExporter(
      createTestSettings('postgresql', 'exporter'),
      configSchema.parse({}),
    );
    await exporter.shutdown();
    await exporter.shutdown();
  });

  it('describes where it writes, never with the password', () => {
    const settings = createTestSettings('postgresql', 'exporter');
    const exporter = new PostgresqlExporter(
      settings,
      configSchema.parse({
        endpoint: 'postgresql://kw:hunter2@db.site:5433/kwdb',
        sending_queue: { storage: 'file', directory: '/var/lib/q' },
      }),
    );
    expect(exporter.describe()).toBe(
      'PostgreSQL db.site:5433/kwdb (kwollect metrics table), queue in /var/lib/q',
    );
    expect(
      new PostgresqlExporter(settings, configSchema.parse({ db_host: '/var/run/postgresql' })).describe(),
    ).toBe('PostgreSQL /var/run/postgresql (socket, port 5432)/kwdb (kwollect metrics table), memory queue');
  });
});
