import { InframeterError, TimeoutError } from '../../kit/errors.ts';

/** Why a poll of a target failed, as `error.type` of inframeter.snmp.poll.errors. */
export type PollFailure = 'timeout' | 'authentication' | 'agent_error' | 'malformed_response' | 'socket';

const CODES: Record<Exclude<PollFailure, 'timeout'>, string> = {
  authentication: 'ERR_SNMP_AUTH',
  agent_error: 'ERR_SNMP_AGENT',
  malformed_response: 'ERR_SNMP_RESPONSE',
  socket: 'ERR_SNMP_SOCKET',
};

/**
 * An SNMP request that failed for a reason other than a timeout: the agent refused the
 * credentials (`ERR_SNMP_AUTH`, an SNMPv3 report such as usmStatsWrongDigests), answered with
 * an error-status (`ERR_SNMP_AGENT`), sent something that could not be decoded
 * (`ERR_SNMP_RESPONSE`), or the socket failed (`ERR_SNMP_SOCKET`).
 */
export class SnmpError extends InframeterError {
  readonly failure: Exclude<PollFailure, 'timeout'>;
  /** The error-status of an agent error (RFC 3416 §3): tooBig(1), noSuchName(2), genErr(5), … */
  readonly status: number | undefined;
  constructor(
    failure: Exclude<PollFailure, 'timeout'>,
    message: string,
    options?: ErrorOptions & { status?: number | undefined },
  ) {
    super(CODES[failure], message, options);
    this.failure = failure;
    this.status = options?.status;
  }
}

/** RFC 3416 error-status values the client reacts to. */
export const ERROR_STATUS = { tooBig: 1, noSuchName: 2 } as const;

/** True for an agent error with this error-status. */
export function hasErrorStatus(error: unknown, status: number): boolean {
  return error instanceof SnmpError && error.failure === 'agent_error' && error.status === status;
}

/** The failure an error stands for. Timeouts are the shared TimeoutError. */
export function pollFailureOf(error: unknown): PollFailure {
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof SnmpError) return error.failure;
  return 'socket';
}
