import { z } from 'zod';
import { duration } from '../../kit/config-types.ts';

export const batchConfigSchema = z
  .strictObject({
    /** Points that make a batch go at once. */
    send_batch_size: z.number().int().positive().default(8192),
    /** Largest batch sent; bigger ones are split. 0: no limit. */
    send_batch_max_size: z.number().int().min(0).default(0),
    /** Longest a point waits for its batch to fill. */
    timeout: duration().prefault('200ms'),
  })
  .superRefine((c, ctx) => {
    if (c.send_batch_max_size > 0 && c.send_batch_max_size < c.send_batch_size) {
      ctx.addIssue({
        code: 'custom',
        path: ['send_batch_max_size'],
        message: 'must be 0 or at least send_batch_size',
      });
    }
  });
export type BatchConfig = z.infer<typeof batchConfigSchema>;
