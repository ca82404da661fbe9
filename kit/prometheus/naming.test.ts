import { describe, expect, it } from 'vitest';
import type { PrometheusType } from './naming.ts';
import { isValidLabelName, toLabelName, toPrometheusName, toPrometheusUnit } from './naming.ts';

type Row = [name: string, unit: string, type: PrometheusType | 'otel-gauge', expected: string, unit: string];

describe('toPrometheusName', () => {
  it.each<Row>([
    // Semantic-convention names with their units.
    ['system.cpu.time', 's', 'counter', 'system_cpu_time_seconds_total', 'seconds'],
    ['system.memory.usage', 'By', 'gauge', 'system_memory_usage_bytes', 'bytes'],
    ['system.cpu.utilization', '1', 'otel-gauge', 'system_cpu_utilization_ratio', 'ratio'],
    ['hw.power', 'W', 'otel-gauge', 'hw_power_watts', 'watts'],
    ['hw.energy', 'J', 'counter', 'hw_energy_joules_total', 'joules'],
    ['hw.temperature', 'Cel', 'otel-gauge', 'hw_temperature_celsius', 'celsius'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds', 'seconds'],
    ['rpc.server.duration', 'ms', 'histogram', 'rpc_server_duration_milliseconds', 'milliseconds'],
    ['hw.voltage', 'V', 'otel-gauge', 'hw_voltage_volts', 'volts'],
    ['hw.fan.speed', 'Hz', 'otel-gauge', 'hw_fan_speed_hertz', 'hertz'],
    ['disk.size', 'GiBy', 'gauge', 'disk_size_gibibytes', 'gibibytes'],
    ['uptime', 'd', 'otel-gauge', 'uptime_days', 'days'],
    ['cpu.busy', '%', 'otel-gauge', 'cpu_busy_percent', 'percent'],
    // Annotations in braces are not units.
    ['system.network.packet.count', '{packet}', 'counter', 'system_network_packet_count_total', ''],
    ['system.processes.count', '{process}', 'gauge', 'system_processes_count', ''],
    // Rates: foo/bar → foo_per_bar.
    [
      'system.network.io.rate',
      'By/s',
      'otel-gauge',
      'system_network_io_rate_bytes_per_second',
      'bytes_per_second',
    ],
    ['packets.rate', '{packet}/s', 'otel-gauge', 'packets_rate_per_second', 'per_second'],
    ['speed', 'm/s', 'otel-gauge', 'speed_meters_per_second', 'meters_per_second'],
    ['events.rate', '1/min', 'otel-gauge', 'events_rate_per_minute', 'per_minute'],
    // Unit "1": _ratio for gauges only; nothing for sums.
    ['system.cpu.logical.count', '1', 'gauge', 'system_cpu_logical_count', ''],
    ['errors', '1', 'counter', 'errors_total', ''],
    // The unit is not repeated when the name already has it.
    ['process.cpu.seconds', 's', 'counter', 'process_cpu_seconds_total', 'seconds'],
    ['latency.seconds.max', 's', 'otel-gauge', 'latency_seconds_max', ''],
    ['bytes.per.second', 'By/s', 'otel-gauge', 'bytes_per_second', 'bytes_per_second'],
    // _total moves after the unit; never doubled.
    ['http.requests.total', '{request}', 'counter', 'http_requests_total', ''],
    ['energy.total', 'J', 'counter', 'energy_joules_total', 'joules'],
    // Units outside the table are kept, sanitized.
    ['power', 'mW', 'otel-gauge', 'power_mW', 'mW'],
    ['energy', 'kW.h', 'counter', 'energy_kW_h_total', 'kW_h'],
    // Invalid characters, runs of _, leading and trailing _ and a leading digit.
    ['(lambda).function.executions(#)', '', 'gauge', 'lambda_function_executions', ''],
    ['a..b__c-d/e:f', '', 'gauge', 'a_b_c_d_e_f', ''],
    ['9p.reads', '', 'counter', '_9p_reads_total', ''],
    ['...', '', 'gauge', '', ''],
    ['ünïcødé.metric', '', 'gauge', 'n_c_d_metric', ''],
  ])('%s [%s] as %s → %s', (name, unit, type, expected, expectedUnit) => {
    const isOtelGauge = type === 'otel-gauge';
    expect(toPrometheusName({ name, unit, type: isOtelGauge ? 'gauge' : type, isOtelGauge })).toEqual({
      name: expected,
      unit: expectedUnit,
    });
  });

  it('puts the namespace in front, after sanitizing it', () => {
    const metric = { name: 'system.cpu.time', unit: 's', type: 'counter', isOtelGauge: false } as const;
    expect(toPrometheusName(metric, { namespace: 'inframeter' }).name).toBe(
      'inframeter_system_cpu_time_seconds_total',
    );
    expect(toPrometheusName(metric, { namespace: 'lab-1' }).name).toBe('lab_1_system_cpu_time_seconds_total');
    expect(toPrometheusName(metric, { namespace: '1lab' }).name).toBe('_1lab_system_cpu_time_seconds_total');
  });

  it('adds no suffix at all when add_metric_suffixes is off', () => {
    const options = { addSuffixes: false };
    expect(
      toPrometheusName({ name: 'system.cpu.time', unit: 's', type: 'counter', isOtelGauge: false }, options),
    ).toEqual({
      name: 'system_cpu_time',
      unit: '',
    });
    expect(
      toPrometheusName({ name: 'cpu.utilization', unit: '1', type: 'gauge', isOtelGauge: true }, options),
    ).toEqual({
      name: 'cpu_utilization',
      unit: '',
    });
  });
});

describe('toPrometheusUnit', () => {
  it.each([
    ['s', false, 'seconds'],
    ['By/s', false, 'bytes_per_second'],
    ['1', true, 'ratio'],
    ['1', false, ''],
    ['{packet}', false, ''],
    ['', false, ''],
    [' ms ', false, 'milliseconds'],
  ])('%j (gauge %s) → %j', (unit, gauge, expected) => {
    expect(toPrometheusUnit(unit, gauge)).toBe(expected);
  });
});

describe('toLabelName', () => {
  it.each([
    ['cpu.mode', 'cpu_mode'],
    ['network.io.direction', 'network_io_direction'],
    ['http.response.status_code', 'http_response_status_code'],
    ['a..b', 'a_b'],
    ['k8s-pod/name', 'k8s_pod_name'],
    ['2xx', 'key_2xx'],
    ['_private', 'key_private'],
    ['__name__', 'key_name_'],
    ['.hidden', 'key_hidden'],
    ['ok', 'ok'],
    ['', ''],
  ])('%j → %j', (key, expected) => {
    expect(toLabelName(key)).toBe(expected);
    if (expected !== '') expect(isValidLabelName(expected)).toBe(true);
  });

  it('tells valid label names from invalid or reserved ones', () => {
    expect(isValidLabelName('rack')).toBe(true);
    expect(isValidLabelName('_rack')).toBe(true);
    expect(isValidLabelName('__rack')).toBe(false);
    expect(isValidLabelName('rack.id')).toBe(false);
    expect(isValidLabelName('1rack')).toBe(false);
    expect(isValidLabelName('')).toBe(false);
  });
});
