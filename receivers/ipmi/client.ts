import { spawn } from 'node:child_process';
import { childEnvironment } from '../../kit/child-env.ts';

/** What one run of a FreeIPMI tool gave. */
export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because it ran past its timeout (a hung BMC). */
  readonly timedOut: boolean;
}

/** Runs FreeIPMI tools: the receiver's only I/O. */
export interface IpmiToolRunner {
  run(program: string, args: readonly string[], timeoutMs: number): Promise<ToolResult>;
}

/**
 * Spawns the tool and kills it (SIGKILL, and its process group) when it outlives the
 * timeout, so that a BMC that never answers never leaves processes piling up.
 */
export const spawnRunner: IpmiToolRunner = {
  run(program, args, timeoutMs) {
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      // The collector's environment holds the secrets `${env:NAME}` substitutes: not passed on.
      const child = spawn(program, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: childEnvironment(),
      });
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        resolve({ code: -1, stdout, stderr: error.message, timedOut: false });
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, timedOut });
      });
    });
  },
};
