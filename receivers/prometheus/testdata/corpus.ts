/**
 * Expositions written from the OpenMetrics 1.0 specification (OpenMetrics.md, "Text
 * format" and "Metric types") and the Prometheus text format 0.0.4 documentation
 * (exposition_formats.md), each naming the rule it checks. Valid cases must parse to the
 * samples given; invalid ones must fail on the line given.
 */

/** A valid exposition and what it must give. */
export interface ValidCase {
  readonly rule: string;
  readonly openMetrics: boolean;
  readonly text: string;
  /** `family type: sample{labels} value [@timestamp ms]`, one per sample, in order. */
  readonly expect: readonly string[];
}

/** An invalid exposition and the line it must fail on. */
export interface InvalidCase {
  readonly rule: string;
  readonly openMetrics: boolean;
  readonly text: string;
  readonly line: number;
}

export const VALID: readonly ValidCase[] = [
  {
    rule: 'OM "Counter": samples _total and _created; the family is named without _total',
    openMetrics: true,
    text: '# TYPE foo counter\nfoo_total 17.0\nfoo_created 1520879607.789\n# EOF\n',
    expect: ['foo counter: foo_total{} 17', 'foo counter: foo_created{} 1520879607.789'],
  },
  {
    rule: 'OM "Exemplars": an exemplar after a counter total, with a timestamp',
    openMetrics: true,
    text: '# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67 1520879602.3\n# EOF\n',
    expect: ['foo counter: foo_total{} 17 @1520879607789'],
  },
  {
    rule: 'OM "Exemplars": an exemplar on a histogram bucket, without a timestamp',
    openMetrics: true,
    text:
      '# TYPE foo histogram\nfoo_bucket{le="0.01"} 0\nfoo_bucket{le="0.1"} 8 # {} 0.054\n' +
      'foo_bucket{le="+Inf"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789\nfoo_count 17\nfoo_sum 324789.3\nfoo_created 1520430000.123\n# EOF\n',
    expect: [
      'foo histogram: foo_bucket{le="0.01"} 0',
      'foo histogram: foo_bucket{le="0.1"} 8',
      'foo histogram: foo_bucket{le="+Inf"} 17',
      'foo histogram: foo_count{} 17',
      'foo histogram: foo_sum{} 324789.3',
      'foo histogram: foo_created{} 1520430000.123',
    ],
  },
  {
    rule: 'OM "GaugeHistogram": _gcount and _gsum are separate samples',
    openMetrics: true,
    text:
      '# TYPE foo gaugehistogram\nfoo_bucket{le="0.01"} 20.0\nfoo_bucket{le="0.1"} 25.0\nfoo_bucket{le="+Inf"} 53.0\n' +
      'foo_gcount 53.0\nfoo_gsum 1.5\n# EOF\n',
    expect: [
      'foo gaugehistogram: foo_bucket{le="0.01"} 20',
      'foo gaugehistogram: foo_bucket{le="0.1"} 25',
      'foo gaugehistogram: foo_bucket{le="+Inf"} 53',
      'foo gaugehistogram: foo_gcount{} 53',
      'foo gaugehistogram: foo_gsum{} 1.5',
    ],
  },
  {
    rule: 'OM "StateSet": one sample per state, the state in a label named after the family',
    openMetrics: true,
    text: '# TYPE foo stateset\nfoo{entity="controller",foo="a"} 1.0\nfoo{entity="controller",foo="bb"} 0.0\n# EOF\n',
    expect: ['foo stateset: foo{entity="controller",foo="a"} 1', 'foo stateset: foo{entity="controller",foo="bb"} 0'],
  },
  {
    rule: 'OM "Info": the sample is the family name with _info, value 1',
    openMetrics: true,
    text: '# TYPE foo info\nfoo_info{name="pretty name",version="8.2.7"} 1\n# EOF\n',
    expect: ['foo info: foo_info{name="pretty name",version="8.2.7"} 1'],
  },
  {
    rule: 'OM "Unknown": typed unknown, and a family without a TYPE is unknown',
    openMetrics: true,
    text: '# TYPE foo unknown\nfoo 42.23\nbar 1\n# EOF\n',
    expect: ['foo unknown: foo{} 42.23', 'bar unknown: bar{} 1'],
  },
  {
    rule: 'OM "Summary": quantiles, _sum, _count, _created',
    openMetrics: true,
    text:
      '# TYPE foo summary\nfoo{quantile="0.5"} 0.0\nfoo{quantile="0.99"} 1.5e-3\nfoo_count 17\nfoo_sum 324789.3\nfoo_created 1520430000.123\n# EOF\n',
    expect: [
      'foo summary: foo{quantile="0.5"} 0',
      'foo summary: foo{quantile="0.99"} 0.0015',
      'foo summary: foo_count{} 17',
      'foo summary: foo_sum{} 324789.3',
      'foo summary: foo_created{} 1520430000.123',
    ],
  },
  {
    rule: 'OM "UNIT": the unit is the suffix of the family name',
    openMetrics: true,
    text: '# TYPE foo_seconds gauge\n# UNIT foo_seconds seconds\n# HELP foo_seconds Some \\"quoted\\" help\\nwith a line feed.\nfoo_seconds 1.5\n# EOF\n',
    expect: ['foo_seconds gauge: foo_seconds{} 1.5'],
  },
  {
    rule: 'OM "Escaping": label values escape \\\\, \\" and \\n',
    openMetrics: true,
    text: '# TYPE foo gauge\nfoo{a="x\\\\y",b="say \\"hi\\"",c="two\\nlines"} 1\n# EOF\n',
    expect: ['foo gauge: foo{a="x\\\\y",b="say \\"hi\\"",c="two\\nlines"} 1'],
  },
  {
    rule: 'OM "Numbers": +Inf, -Inf, NaN, exponents and integers',
    openMetrics: true,
    text: '# TYPE foo gauge\nfoo{a="1"} +Inf\nfoo{a="2"} -Inf\nfoo{a="3"} NaN\nfoo{a="4"} 1e-3\nfoo{a="5"} -12\n# EOF\n',
    expect: [
      'foo gauge: foo{a="1"} Infinity',
      'foo gauge: foo{a="2"} -Infinity',
      'foo gauge: foo{a="3"} NaN',
      'foo gauge: foo{a="4"} 0.001',
      'foo gauge: foo{a="5"} -12',
    ],
  },
  {
    rule: 'OM "Timestamps": seconds since the epoch, fractions and integers',
    openMetrics: true,
    text: '# TYPE foo gauge\nfoo{a="1"} 1 1520879607.789\nfoo{a="2"} 1 1520879607\n# EOF\n',
    expect: ['foo gauge: foo{a="1"} 1 @1520879607789', 'foo gauge: foo{a="2"} 1 @1520879607000'],
  },
  {
    rule: 'OM "MetricFamily": metadata without samples is legal and gives no family',
    openMetrics: true,
    text: '# TYPE foo gauge\n# HELP foo Nothing yet.\n# TYPE bar counter\nbar_total 1\n# EOF\n',
    expect: ['bar counter: bar_total{} 1'],
  },
  {
    rule: 'OM "Overall structure": an empty exposition is # EOF alone',
    openMetrics: true,
    text: '# EOF\n',
    expect: [],
  },
  {
    rule: 'OM "Overall structure": the line feed after # EOF is optional',
    openMetrics: true,
    text: '# TYPE foo gauge\nfoo 1\n# EOF',
    expect: ['foo gauge: foo{} 1'],
  },
  {
    rule: 'OM "Label": a label value may be empty and hold any UTF-8',
    openMetrics: true,
    text: '# TYPE foo gauge\nfoo{a="",b="Zürich ☃"} 1\n# EOF\n',
    expect: ['foo gauge: foo{a="",b="Zürich ☃"} 1'],
  },
  {
    rule: 'Prometheus 3 UTF-8 names: a quoted metric name inside the braces, quoted label names',
    openMetrics: true,
    text: '# TYPE "my.metric" gauge\n{"my.metric","http.method"="GET"} 2\n# EOF\n',
    expect: ['my.metric gauge: my.metric{http.method="GET"} 2'],
  },
  {
    rule:
      'OM "MetricFamily" as Prometheus reads it: metadata after a family\'s samples starts a family of that name (the Go client library writes go_memstats_alloc_bytes so)',
    openMetrics: true,
    text: '# TYPE a gauge\na 1\n# TYPE a counter\na_total 2\n# EOF\n',
    expect: ['a gauge: a{} 1', 'a counter: a_total{} 2'],
  },
  {
    rule: 'Text 0.0.4: counters are typed by their sample name; timestamps are milliseconds',
    openMetrics: false,
    text: '# HELP http_requests_total The total.\n# TYPE http_requests_total counter\nhttp_requests_total{method="post",code="200"} 1027 1395066363000\n',
    expect: ['http_requests_total counter: http_requests_total{method="post",code="200"} 1027 @1395066363000'],
  },
  {
    rule: 'Text 0.0.4: other comments, blank lines, tabs, a trailing comma and CRLF are accepted',
    openMetrics: false,
    text: '# a comment\n\nfoo{a="1",}\t3\r\n  \n',
    expect: ['foo untyped: foo{a="1"} 3'],
  },
  {
    rule: 'Text 0.0.4: untyped, and samples without any TYPE',
    openMetrics: false,
    text: '# TYPE foo untyped\nfoo 1\nbar -Inf\n',
    expect: ['foo untyped: foo{} 1', 'bar untyped: bar{} -Infinity'],
  },
  {
    rule: 'Text 0.0.4: HELP escapes \\\\ and \\n only; a " stays as written',
    openMetrics: false,
    text: '# HELP foo a "quoted" \\\\ help\\n.\nfoo 1\n',
    expect: ['foo untyped: foo{} 1'],
  },
];

export const INVALID: readonly InvalidCase[] = [
  { rule: 'OM "Overall structure": the exposition ends with # EOF', openMetrics: true, text: '# TYPE foo gauge\nfoo 1\n', line: 2 },
  { rule: 'OM "Overall structure": nothing follows # EOF', openMetrics: true, text: 'foo 1\n# EOF\nbar 1\n', line: 3 },
  { rule: 'OM "ABNF": no empty lines', openMetrics: true, text: 'foo 1\n\nbar 1\n# EOF\n', line: 2 },
  {
    rule: 'OM "MetricFamily": a family\'s lines are not interleaved with another\'s',
    openMetrics: true,
    text: '# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n# EOF\n',
    line: 5,
  },
  {
    rule: 'OM "MetricFamily": metadata is not repeated',
    openMetrics: true,
    text: '# TYPE a gauge\n# TYPE a gauge\na 1\n# EOF\n',
    line: 2,
  },
  { rule: 'OM "Metric types": the type is one of the eight', openMetrics: true, text: '# TYPE a countr\n# EOF\n', line: 1 },
  { rule: 'OM "Metric types": untyped is the text format\'s, not OpenMetrics\'', openMetrics: true, text: '# TYPE a untyped\n# EOF\n', line: 1 },
  {
    rule: 'OM "UNIT": the unit is the suffix of the family name',
    openMetrics: true,
    text: '# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Counter": the value sample is _total',
    openMetrics: true,
    text: '# TYPE a counter\na 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Histogram": a bucket has an le label',
    openMetrics: true,
    text: '# TYPE a histogram\na_bucket 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Histogram": le is a number',
    openMetrics: true,
    text: '# TYPE a histogram\na_bucket{le="big"} 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Summary": quantile is a number in [0, 1]',
    openMetrics: true,
    text: '# TYPE a summary\na{quantile="1.5"} 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "StateSet": each sample has the label named after the family',
    openMetrics: true,
    text: '# TYPE a stateset\na{b="x"} 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Exemplars": only counter totals and histogram buckets carry them',
    openMetrics: true,
    text: '# TYPE a gauge\na 1 # {trace_id="x"} 1\n# EOF\n',
    line: 2,
  },
  {
    rule: 'OM "Exemplars": the label set is at most 128 UTF-8 characters',
    openMetrics: true,
    text: `# TYPE a counter\na_total 1 # {trace_id="${'x'.repeat(130)}"} 1\n# EOF\n`,
    line: 2,
  },
  {
    rule: 'OM "ABNF": one space between tokens',
    openMetrics: true,
    text: 'a  1\n# EOF\n',
    line: 1,
  },
  {
    rule: 'OM "ABNF": no trailing comma in a label set',
    openMetrics: true,
    text: 'a{b="c",} 1\n# EOF\n',
    line: 1,
  },
  { rule: 'OM "ABNF": comments other than metadata are not allowed', openMetrics: true, text: '# hello\n# EOF\n', line: 1 },
  {
    rule: 'OM "Timestamps": a timestamp is a number of seconds',
    openMetrics: true,
    text: 'a 1 yesterday\n# EOF\n',
    line: 1,
  },
  { rule: 'ABNF "Label": a label name is not repeated', openMetrics: false, text: 'a{b="1",b="2"} 1\n', line: 1 },
  { rule: 'ABNF "Escaping": only \\\\, \\" and \\n', openMetrics: false, text: 'a{b="\\t"} 1\n', line: 1 },
  { rule: 'ABNF "Label": the value is terminated', openMetrics: false, text: 'ok 1\na{b="c} 1\n', line: 2 },
  { rule: 'ABNF "Number": the value is a number', openMetrics: false, text: 'a one\n', line: 1 },
  {
    rule: 'Text 0.0.4: a sample line is name, labels, value, optional timestamp',
    openMetrics: false,
    text: 'ok 1\n<html><body>Login</body></html>\n',
    line: 2,
  },
  { rule: 'Text 0.0.4: the timestamp is an integer of milliseconds', openMetrics: false, text: 'a 1 2.5\n', line: 1 },
  { rule: 'Text 0.0.4: nothing after the timestamp', openMetrics: false, text: 'a 1 2 3\n', line: 1 },
  { rule: 'Text 0.0.4: the TYPE is one of the known types', openMetrics: false, text: '# TYPE a countr\n', line: 1 },
];
