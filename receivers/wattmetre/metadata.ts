import type { ReceiverMetadata } from '../../kit/metadata.ts';

const PORT = ['hw.id', 'hw.type', 'device.id'];

/** Every metric of the wattmetre receiver. */
export const wattmetreMetadata: ReceiverMetadata = {
  type: 'wattmetre',
  stability: 'alpha',
  metrics: [
    {
      name: 'hw.power',
      instrument: 'gauge',
      unit: 'W',
      attributes: PORT,
      group: 'power',
      enabled: true,
      description:
        'Power through the port: every sample with its own timestamp (`full`), or the mean of each second (`mean`), per device mode.',
    },
    {
      name: 'hw.energy',
      instrument: 'counter',
      unit: 'J',
      attributes: PORT,
      group: 'power',
      enabled: true,
      description:
        'Energy through the port since the receiver started, integrated from the samples (power × time to the next sample; never across a gap).',
    },
    {
      name: 'inframeter.wattmetre.frames',
      instrument: 'counter',
      unit: '{frame}',
      attributes: ['hw.id', 'frame.status'],
      group: 'frames',
      enabled: true,
      description: 'Lines read, by status: `valid`, `not_ok` (the meter flagged the frame), `malformed`.',
    },
    {
      name: 'inframeter.wattmetre.gaps',
      instrument: 'counter',
      unit: '{gap}',
      attributes: ['hw.id'],
      group: 'frames',
      enabled: true,
      description: 'Times consecutive frames were further apart than `max_gap`.',
    },
    {
      name: 'inframeter.wattmetre.restarts',
      instrument: 'counter',
      unit: '{restart}',
      attributes: ['hw.id'],
      group: 'frames',
      enabled: true,
      description: 'Times the source command exited and was started again (or the FIFO reopened).',
    },
  ],
  attributes: {
    'hw.id': 'The port, `<wattmetre_id>-port<N>` (the meter itself, `<wattmetre_id>`, on frame counters).',
    'hw.type': '`power_supply`: what the meter measures.',
    'device.id': 'The device the port powers, from the mapping file; absent for an unmapped port.',
    'frame.status':
      '`valid`, `not_ok`, `malformed` or `oversized` (a line over 64 KiB without newline, dropped).',
  },
};
