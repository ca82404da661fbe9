import { describe, expect, it } from 'vitest';
import {
  HEAP_FLAGS,
  HEAP_FLAGS_APPLIED,
  heapFlagsArgv,
  heapFlagsEnv,
  ingestHeapFlagsApply,
} from './heap-flags.ts';

const argv = ['/usr/bin/node', '/app/dist/service/main.js', 'run', '--config', 'c.yaml'];

describe('heap flags of inframeter run', () => {
  it('re-executes `run` with the flags before the user’s Node.js options and the script', () => {
    expect(heapFlagsArgv(argv, ['--enable-source-maps'], {})).toEqual([
      process.execPath,
      ...HEAP_FLAGS,
      '--enable-source-maps',
      '/app/dist/service/main.js',
      'run',
      '--config',
      'c.yaml',
    ]);
  });

  it('leaves other commands, chosen heap flags, a re-executed process and `off` alone', () => {
    expect(
      heapFlagsArgv(['/usr/bin/node', 'main.js', 'results', 'summary', 'x.csv'], [], {}),
    ).toBeUndefined();
    expect(heapFlagsArgv(argv, ['--max-old-space-size=512'], {})).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { NODE_OPTIONS: '--max-semi-space-size=8' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { INFRAMETER_HEAP_FLAGS_APPLIED: '1' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { INFRAMETER_HEAP_FLAGS: 'off' })).toBeUndefined();
    expect(heapFlagsArgv(argv, [], { NODE_OPTIONS: '--enable-source-maps' })).toHaveLength(
      HEAP_FLAGS.length + argv.length,
    );
  });

  it('changes the growing step for ingest only over the flags `run` set itself', () => {
    expect(ingestHeapFlagsApply({ [HEAP_FLAGS_APPLIED]: '1' })).toBe(true);
    // V8's defaults (`off`), the user's own heap flags (no re-execution), or a bench/test process.
    expect(ingestHeapFlagsApply({})).toBe(false);
    expect(ingestHeapFlagsApply({ INFRAMETER_HEAP_FLAGS: 'off' })).toBe(false);
  });

  it('limits malloc arenas in the re-executed process unless the user chose a number', () => {
    expect(heapFlagsEnv({ PATH: '/bin' })).toEqual({
      PATH: '/bin',
      MALLOC_ARENA_MAX: '2',
      [HEAP_FLAGS_APPLIED]: '1',
    });
    expect(heapFlagsEnv({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });
});
