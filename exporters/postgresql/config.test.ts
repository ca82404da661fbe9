import { describe, expect, it } from 'vitest';
import { configSchema, describeTarget, resolveTarget } from './config.ts';

describe('postgresql exporter config', () => {
  it("takes kwollect's keys, with kwollect's defaults", () => {
    const config = configSchema.parse({});
    expect(resolveTarget(config)).toMatchObject({
      host: 'localhost',
      port: 5432,
      database: 'kwdb',
      user: 'kwuser',
    });
    const target = resolveTarget(
      configSchema.parse({
        db_host: 'db.site',
        db_port: 5433,
        db_name: 'kw',
        db_user: 'u',
        db_password: 'p',
      }),
    );
    expect(target).toMatchObject({ host: 'db.site', port: 5433, database: 'kw', user: 'u' });
    expect(target.password?.reveal()).toBe('p');
    expect(config.device_id_attributes).toEqual(['device_id', 'device.id', 'host.name']);
    expect(config.create_schema).toBe(true);
  });

  it('takes a postgresql:// endpoint, never printing its password', () => {
    const config = configSchema.parse({ endpoint: 'postgresql://kw:s%40cret@[::1]:6432/metrics' });
    const target = resolveTarget(config);
    expect(target).toMatchObject({ host: '::1', port: 6432, database: 'metrics', user: 'kw' });
    expect(target.password?.reveal()).toBe('s@cret');
    expect(JSON.stringify(config)).not.toContain('cret');
    expect(describeTarget(target)).toBe('[::1]:6432/metrics');
    // db_password wins over the URL's.
    const overridden = configSchema.parse({ endpoint: 'postgres://kw:a@h/db', db_password: 'b' });
    expect(resolveTarget(overridden).password?.reveal()).toBe('b');
  });

  it('reports every problem with its path, never echoing the endpoint', () => {
    const result = configSchema.safeParse({
      endpoint: 'mysql://u:hunter2@h/db',
      db_host: 'x',
      db_port: 70000,
      device_id_attributes: [],
      bogus: 1,
    });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n') ?? '';
    expect(issues).toContain('db_port');
    expect(issues).toContain('device_id_attributes');
    expect(issues).toContain('bogus');
    expect(issues).not.toContain('hunter2');
  });
});
