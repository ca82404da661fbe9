import { createHash, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../../kit/config-types.ts';

/** Checks `authorization: Bearer <token>` in constant time; always true without a token. */
export function createBearerCheck(token: Secret | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token.reveal()).digest();
  return (authorization) => {
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    if (match === null) return false;
    return timingSafeEqual(
      createHash('sha256')
        .update(match[1] ?? '')
        .digest(),
      expected,
    );
  };
}
