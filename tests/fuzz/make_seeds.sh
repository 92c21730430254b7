#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/ (checked in; run this by hand after editing
# it). OTLP requests are written here in protobuf text format and encoded with protoc against the
# repository's .proto files; the HTTP seeds are those requests compressed with gzip, zstd and
# zlib (deflate). Regression seeds (corpus/*/regress-*) are kept: only generated files are
# replaced. Needs protoc, gzip, zstd and python3.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
proto_dir=$root/agent/otlp/proto
out=corpus
generated="fuzz_otlp_decode fuzz_config fuzz_otlp_http fuzz_otlp_json fuzz_emf"
for d in $generated; do mkdir -p "$out/$d"; done
# Only the generated corpora: the others are written by hand.
for d in $generated; do find "$out/$d" -type f ! -name 'regress-*' -delete; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

encode() {  # encode SIGNAL(traces|metrics|logs) < textproto > bytes
  local pkg type
  case $1 in
    traces) pkg=trace; type=ExportTraceServiceRequest ;;
    metrics) pkg=metrics; type=ExportMetricsServiceRequest ;;
    logs) pkg=logs; type=ExportLogsServiceRequest ;;
  esac
  protoc -I "$proto_dir" --encode="opentelemetry.proto.collector.$pkg.v1.$type" \
    "$proto_dir/opentelemetry/proto/collector/$pkg/v1/${pkg}_service.proto"
}

# decode_seed NAME SIGNAL SPLIT: the first byte is signal + 3 * split (see fuzz_otlp_decode.cpp).
decode_seed() {
  local name=$1 signal=$2 split=$3 index
  case $signal in traces) index=0 ;; metrics) index=1 ;; logs) index=2 ;; esac
  encode "$signal" > "$tmp/$name.pb"
  python3 -c 'import sys; sys.stdout.buffer.write(bytes([int(sys.argv[1])]))' $((index + 3 * split)) \
    > "$out/fuzz_otlp_decode/$name"
  cat "$tmp/$name.pb" >> "$out/fuzz_otlp_decode/$name"
}

ATTRS='
  attributes { key: "service.name" value { string_value: "checkout" } }
  attributes { key: "pid" value { int_value: -42 } }
  attributes { key: "ratio" value { double_value: 0.25 } }
  attributes { key: "ok" value { bool_value: true } }
  attributes { key: "raw" value { bytes_value: "\000\377" } }
  attributes { key: "list" value { array_value { values { string_value: "a" } values { int_value: 1 } values { array_value {} } } } }
  attributes { key: "map" value { kvlist_value { values { key: "k" value { kvlist_value { values { key: "deep" value { string_value: "\303\251" } } } } } } } }
  attributes { key: "" value {} }'
SCOPE='scope { name: "io.vigil.seed" version: "1.2.3" attributes { key: "s" value { string_value: "v" } } dropped_attributes_count: 1 }'
TID='"\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020"'
SID='"\021\022\023\024\025\026\027\030"'

decode_seed traces-full traces 1 <<EOF
resource_spans {
  resource { $ATTRS dropped_attributes_count: 3 }
  scope_spans {
    $SCOPE
    spans {
      trace_id: $TID span_id: $SID parent_span_id: "\001\001\001\001\001\001\001\001"
      trace_state: "vendor=a" flags: 257 name: "GET /cart" kind: SPAN_KIND_SERVER
      start_time_unix_nano: 1700000000000000000 end_time_unix_nano: 1700000000123456789
      $ATTRS dropped_attributes_count: 2
      events { time_unix_nano: 1700000000000000001 name: "exception" attributes { key: "exception.message" value { string_value: "boom" } } dropped_attributes_count: 1 }
      dropped_events_count: 4
      links { trace_id: $TID span_id: $SID trace_state: "x=y" attributes { key: "l" value { int_value: 7 } } flags: 1 }
      dropped_links_count: 5
      status { code: STATUS_CODE_ERROR message: "failed" }
    }
    spans { trace_id: $TID span_id: "\002\002\002\002\002\002\002\002" name: "db" kind: SPAN_KIND_CLIENT }
    schema_url: "https://opentelemetry.io/schemas/1.21.0"
  }
  scope_spans { spans { name: "bare" } }
  schema_url: "https://opentelemetry.io/schemas/1.21.0"
}
resource_spans { scope_spans { spans { name: "second resource" status { code: STATUS_CODE_OK } } } }
EOF
decode_seed traces-minimal traces 0 <<EOF
resource_spans { scope_spans { spans { name: "x" } } }
EOF
decode_seed traces-empty-entries traces 2 <<EOF
resource_spans {}
resource_spans { scope_spans {} scope_spans { spans {} spans {} } }
EOF

decode_seed metrics-full metrics 2 <<EOF
resource_metrics {
  resource { $ATTRS }
  scope_metrics {
    $SCOPE
    metrics {
      name: "requests" description: "count of requests" unit: "1"
      sum { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE is_monotonic: true
        data_points { start_time_unix_nano: 1 time_unix_nano: 2 as_int: 10 $ATTRS flags: 1
          exemplars { time_unix_nano: 2 as_double: 1.5 trace_id: $TID span_id: $SID filtered_attributes { key: "f" value { bool_value: false } } } }
        data_points { time_unix_nano: 3 as_double: -0.0 } }
      metadata { key: "m" value { string_value: "meta" } }
    }
    metrics { name: "temperature" unit: "Cel" gauge { data_points { time_unix_nano: 5 as_double: inf } data_points { as_int: -9223372036854775808 } } }
    metrics {
      name: "latency" unit: "ms"
      histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
        data_points { time_unix_nano: 9 count: 6 sum: 12.5 bucket_counts: [1, 2, 3] explicit_bounds: [1.0, 10.0] min: 0.5 max: 11 exemplars { as_int: 3 } }
        data_points { count: 0 } }
    }
    metrics {
      name: "latency.exp"
      exponential_histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
        data_points { count: 5 sum: 3 scale: -3 zero_count: 1 zero_threshold: 0.001
          positive { offset: -2 bucket_counts: [1, 2] } negative { offset: 4 bucket_counts: [1] } min: -1 max: 2 } }
    }
    metrics {
      name: "rpc.summary"
      summary { data_points { count: 4 sum: 10 quantile_values { quantile: 0.5 value: 2 } quantile_values { quantile: 0.99 value: 9 } } }
    }
    metrics { name: "no data" }
  }
}
EOF
decode_seed metrics-gauge metrics 0 <<EOF
resource_metrics { scope_metrics { metrics { name: "g" gauge { data_points { as_double: 1 } } } } }
EOF

decode_seed logs-full logs 1 <<EOF
resource_logs {
  resource { $ATTRS }
  scope_logs {
    $SCOPE
    log_records {
      time_unix_nano: 1700000000000000000 observed_time_unix_nano: 1700000000000000002
      severity_number: SEVERITY_NUMBER_WARN severity_text: "WARN"
      body { kvlist_value { values { key: "msg" value { string_value: "disk almost full" } } values { key: "pct" value { double_value: 97.5 } } } }
      $ATTRS dropped_attributes_count: 1 flags: 1 trace_id: $TID span_id: $SID event_name: "disk.warning"
    }
    log_records { body { string_value: "plain line \360\237\231\202 \303\251" } }
    log_records { body { array_value { values { bytes_value: "\000" } } } }
    schema_url: "s"
  }
}
EOF
decode_seed logs-minimal logs 0 <<EOF
resource_logs { scope_logs { log_records { body { string_value: "hello" } } } }
EOF
# Not valid requests: the decoder's error paths (proto3 strings must be valid UTF-8; protoc
# warns about that one and encodes it anyway).
decode_seed logs-bad-utf8 logs 0 2>/dev/null <<EOF
resource_logs { scope_logs { log_records { body { string_value: "bad utf8 \377" } } } }
EOF
printf '\x00\x0a\x05\x12\x03\x12\x01' > "$out/fuzz_otlp_decode/truncated"
printf '\x02' > "$out/fuzz_otlp_decode/empty-logs"
printf '\x00\x0a\x0b\x12\x09\x12\x07\x0a\x03abc\x12\x00' > "$out/fuzz_otlp_decode/bad-trace-id"

# OTLP/JSON bodies: the first byte picks the signal (byte % 3: traces, metrics, logs); see
# fuzz_otlp_json.cpp. Every spelling the decoder accepts (lowerCamelCase and proto names, hex ids
# in both cases, 64-bit integers as strings and numbers, enum names, "NaN"/"Infinity", base64,
# escapes, nulls, unknown fields), and its error paths.
json_seed() {  # json_seed NAME SIGNAL < body
  local index
  case $2 in traces) index=0 ;; metrics) index=1 ;; logs) index=2 ;; esac
  python3 -c 'import sys; sys.stdout.buffer.write(bytes([int(sys.argv[1])]))' "$index" > "$out/fuzz_otlp_json/$1"
  cat >> "$out/fuzz_otlp_json/$1"
}
JATTRS='"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"pid","value":{"intValue":"-42"}},
 {"key":"n","value":{"intValue":7}},{"key":"ratio","value":{"doubleValue":0.25}},{"key":"ok","value":{"boolValue":true}},
 {"key":"raw","value":{"bytesValue":"AP8="}},{"key":"list","value":{"arrayValue":{"values":[{"stringValue":"a"},{"int_value":1},{"arrayValue":{}}]}}},
 {"key":"map","value":{"kvlistValue":{"values":[{"key":"k","value":{"kvlist_value":{"values":[{"key":"deep","value":{"stringValue":"\u00e9\ud83d\ude80"}}]}}}]}}},
 {"key":"","value":{}},{"key":"nil","value":null}]'
JSCOPE='"scope":{"name":"io.vigil.seed","version":"1.2.3","attributes":[{"key":"s","value":{"stringValue":"v"}}],"droppedAttributesCount":1}'

json_seed traces-spec traces <<'EOF'
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173","name":"I'm a server span","startTimeUnixNano":1544712660000000000,"endTimeUnixNano":1544712661000000000,"kind":2,"attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}
EOF
json_seed traces-full traces <<EOF
{"resourceSpans":[{"resource":{$JATTRS,"droppedAttributesCount":3},"scopeSpans":[{$JSCOPE,"spans":[
 {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","parent_span_id":"0101010101010101","traceState":"vendor=a","flags":257,
  "name":"GET /cart","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1700000000000000000","end_time_unix_nano":1700000000123456789,$JATTRS,
  "droppedAttributesCount":2,"events":[{"timeUnixNano":"1700000000000000001","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}],"droppedAttributesCount":1}],
  "droppedEventsCount":4,"links":[{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"1112131415161718","traceState":"x=y","attributes":[{"key":"l","value":{"intValue":"7"}}],"flags":1}],
  "droppedLinksCount":"5","status":{"code":"STATUS_CODE_ERROR","message":"failed"}},
 {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0202020202020202","name":"db","kind":3,"status":{"code":1}}],"schemaUrl":"https://opentelemetry.io/schemas/1.21.0"},
 {"spans":[{"name":"bare","future":{"field":[1,2,{"x":null}]}}]}],"schema_url":"https://opentelemetry.io/schemas/1.21.0"},
 {"scopeSpans":[{"spans":[{"name":"second resource","status":{}}]}]}]}
EOF
json_seed metrics-full metrics <<EOF
{"resourceMetrics":[{"resource":{$JATTRS},"scopeMetrics":[{$JSCOPE,"metrics":[
 {"name":"requests","description":"count of requests","unit":"1","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
  "dataPoints":[{"startTimeUnixNano":"1","timeUnixNano":"2","asInt":"10",$JATTRS,"flags":1,
   "exemplars":[{"timeUnixNano":"2","asDouble":1.5,"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","filteredAttributes":[{"key":"f","value":{"boolValue":false}}]}]},
   {"timeUnixNano":3,"asDouble":-0}]},"metadata":[{"key":"m","value":{"stringValue":"meta"}}]},
 {"name":"temperature","unit":"Cel","gauge":{"dataPoints":[{"timeUnixNano":"5","asDouble":"Infinity"},{"asInt":"-9223372036854775808"},{"asDouble":"NaN"},{"asDouble":1e300}]}},
 {"name":"latency","unit":"ms","histogram":{"aggregationTemporality":1,"dataPoints":[{"timeUnixNano":"9","count":"6","sum":12.5,"bucketCounts":["1","2",3],"explicitBounds":[1,10.0],"min":0.5,"max":11,"exemplars":[{"asInt":"3"}]},{"count":0,"sum":null}]}},
 {"name":"latency.exp","exponential_histogram":{"aggregation_temporality":2,"data_points":[{"count":"5","sum":3,"scale":-3,"zeroCount":"1","zeroThreshold":0.001,
  "positive":{"offset":-2,"bucketCounts":["1","2"]},"negative":{"offset":4,"bucketCounts":["1"]},"min":-1,"max":"2"}]}},
 {"name":"rpc.summary","summary":{"dataPoints":[{"count":"4","sum":10,"quantileValues":[{"quantile":0.5,"value":2},{"quantile":0.99,"value":9}]}]}},
 {"name":"no data"}]}]}]}
EOF
json_seed metrics-gauge metrics <<'EOF'
{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}
EOF
json_seed logs-full logs <<EOF
{"resourceLogs":[{"resource":{$JATTRS},"scopeLogs":[{$JSCOPE,"logRecords":[
 {"timeUnixNano":"1700000000000000000","observedTimeUnixNano":1700000000000000002,"severityNumber":"SEVERITY_NUMBER_WARN","severityText":"WARN",
  "body":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"disk \"almost\" full\n\t\\\\ \u0000"}},{"key":"pct","value":{"doubleValue":97.5}}]}},
  $JATTRS,"droppedAttributesCount":1,"flags":1,"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","eventName":"disk.warning"},
 {"body":{"stringValue":"plain line \ud83d\ude42 \u00e9"},"severity_number":9},
 {"body":{"arrayValue":{"values":[{"bytesValue":"AA=="},{"bytes_value":"_-8"}]}}},
 {"body":null,"traceId":"","spanId":null}],"schemaUrl":"s"}]}]}
EOF
json_seed logs-minimal logs <<'EOF'
{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello"}}]}]}]}
EOF
# Not valid requests: the decoder's error paths.
json_seed bad-hex traces <<'EOF'
{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60G"}]}]}]}
EOF
json_seed short-id logs <<'EOF'
{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"EEE19B7EC3C1B17"}]}]}]}
EOF
json_seed huge-number logs <<'EOF'
{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":18446744073709551616,"body":{"doubleValue":1e400}}]}]}]}
EOF
json_seed wrong-types metrics <<'EOF'
{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":5,"sum":{"isMonotonic":"yes","dataPoints":{}}}]}]}]}
EOF
json_seed trailing logs <<'EOF'
{"resourceLogs":[]}}
EOF
nested_body() {  # nested_body DEPTH: a log body DEPTH arrays deep (48 is the most allowed)
  python3 -c 'import sys; d = int(sys.argv[1]); sys.stdout.write("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":"
    + "{\"arrayValue\":{\"values\":[" * d + "{}" + "]}}" * d + "}]}]}]}")' "$1"
}
nested_body 48 | json_seed deep-body logs
nested_body 49 | json_seed too-deep logs
printf '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"\xc3\x28"}]}]}]}' | json_seed bad-utf8 logs
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"cut' | json_seed truncated traces

# HTTP bodies: the first byte picks the encoding (byte % 4: gzip, zstd, deflate, identity) and the
# limit (byte & 4: 100 bytes instead of 1 MiB); see fuzz_otlp_http.cpp.
http_seed() {  # http_seed NAME FIRST_BYTE < body
  python3 -c 'import sys; sys.stdout.buffer.write(bytes([int(sys.argv[1])]))' "$2" > "$out/fuzz_otlp_http/$1"
  cat >> "$out/fuzz_otlp_http/$1"
}
deflate() { python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 6))'; }
for name in traces-full metrics-full logs-full logs-minimal; do
  pb=$tmp/$name.pb
  http_seed "gzip-$name" 0 < <(gzip -c -n < "$pb")
  http_seed "zstd-$name" 1 < <(zstd -q -c < "$pb")
  http_seed "deflate-$name" 2 < <(deflate < "$pb")
done
http_seed identity-logs 3 < "$tmp/logs-minimal.pb"
http_seed gzip-small-limit 4 < <(gzip -c -n < "$tmp/traces-full.pb")
http_seed zstd-small-limit 5 < <(zstd -q -c < "$tmp/metrics-full.pb")
# Two gzip members back to back (accepted), and a small bomb: 4 MiB of zeros, over the 1 MiB limit.
http_seed gzip-two-members 0 < <(gzip -c -n < "$tmp/logs-minimal.pb"; gzip -c -n < "$tmp/logs-minimal.pb")
http_seed gzip-bomb 0 < <(head -c 4194304 /dev/zero | gzip -9 -c -n)
http_seed zstd-bomb 1 < <(head -c 4194304 /dev/zero | zstd -19 -q -c)
http_seed deflate-bomb 2 < <(head -c 4194304 /dev/zero | deflate)
# zstd with two frames, and a truncated gzip stream.
http_seed zstd-two-frames 1 < <(zstd -q -c < "$tmp/logs-minimal.pb"; zstd -q -c < "$tmp/traces-minimal.pb")
http_seed gzip-truncated 0 < <(gzip -c -n < "$tmp/traces-full.pb" | head -c 60)

# fuzz_emf: OTLP metrics requests; the first byte picks the translator's options (see fuzz_emf.cpp:
# bits 0-1 rollup, 4 resource_to_telemetry, 8 declarations, 16 max_series 3, 32 retain initial
# value, 64 namespace, 128 replay).
emf_seed() {  # emf_seed NAME OPTIONS < textproto
  python3 -c 'import sys; sys.stdout.buffer.write(bytes([int(sys.argv[1])]))' "$2" > "$out/fuzz_emf/$1"
  encode metrics >> "$out/fuzz_emf/$1"
}
KPI_RESOURCE='resource { attributes { key: "service.name" value { string_value: "shop" } } attributes { key: "service.namespace" value { string_value: "demo" } } }'
KPI_SCOPE='scope { name: "vigil.kpi" }'
kpi_point() {  # kpi_point TIME VALUE CURRENCY REGION
  echo "data_points { start_time_unix_nano: 1699990000000000000 time_unix_nano: $1 as_double: $2
    attributes { key: \"currency\" value { string_value: \"$3\" } } attributes { key: \"region\" value { string_value: \"$4\" } } }"
}
emf_seed kpi-cumulative 130 <<EOF
resource_metrics { $KPI_RESOURCE scope_metrics { $KPI_SCOPE
  metrics { name: "orders_total" unit: "{order}" sum { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE is_monotonic: true
    $(kpi_point 1699999940000000000 10 EUR eu-west-1) $(kpi_point 1699999940000000000 7 USD us-east-1)
    $(kpi_point 1700000000000000000 15 EUR eu-west-1) $(kpi_point 1700000000000000000 3 USD us-east-1) } }
  metrics { name: "order_value" unit: "ms" histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE
    data_points { start_time_unix_nano: 1699990000000000000 time_unix_nano: 1699999940000000000 count: 6 sum: 300 bucket_counts: [1, 2, 3, 0, 0, 0] explicit_bounds: [10, 25, 50, 100, 200]
      attributes { key: "region" value { string_value: "eu-west-1" } } }
    data_points { start_time_unix_nano: 1699990000000000000 time_unix_nano: 1700000000000000000 count: 9 sum: 700 bucket_counts: [1, 2, 4, 1, 1, 0] explicit_bounds: [10, 25, 50, 100, 200] min: 5 max: 150
      attributes { key: "region" value { string_value: "eu-west-1" } } } } }
  metrics { name: "last_order_amount" unit: "1" gauge { data_points { time_unix_nano: 1700000000000000000 as_double: 42.5 } } }
} }
EOF
emf_seed declarations 8 <<EOF
resource_metrics { $KPI_RESOURCE scope_metrics { $KPI_SCOPE
  metrics { name: "latency" unit: "s" gauge { data_points { as_double: 0.25 attributes { key: "a" value { string_value: "x" } } attributes { key: "b" value { string_value: "y" } } } } }
  metrics { name: "requests_total" unit: "1/s" gauge { data_points { as_int: 3 attributes { key: "a" value { string_value: "z" } } } } }
  metrics { name: "zeta" unit: "{thing}/s" gauge { data_points { as_int: 1 attributes { key: "a" value { string_value: "x" } } attributes { key: "b" value { string_value: "q" } } } } }
} }
EOF
many_series() {
  for i in $(seq 1 12); do echo "data_points { as_int: $i attributes { key: \"user\" value { string_value: \"u$i\" } } }"; done
}
emf_seed series-guard 18 <<EOF
resource_metrics { $KPI_RESOURCE scope_metrics { $KPI_SCOPE
  metrics { name: "logins" gauge { $(many_series) } }
  metrics { name: "otel.overflow" gauge { $(many_series) } }
} }
EOF
emf_seed conflicts-and-limits 196 <<EOF
resource_metrics { resource { attributes { key: "service.name" value { string_value: "$(printf 'n%.0s' $(seq 1 300))" } } attributes { key: "latency" value { string_value: "clash" } } }
  scope_metrics { scope { name: "lib" }
  metrics { name: "latency" gauge { data_points { as_double: 1 attributes { key: "_aws" value { string_value: "x" } } } } }
  metrics { name: "_aws" gauge { data_points { as_double: 1 } } }
  metrics { name: "" gauge { data_points { as_double: 1 } } }
  metrics { name: "big" unit: "By" gauge { data_points { as_double: 2.7670116110564327e19 attributes { key: "v" value { string_value: "$(printf 'v%.0s' $(seq 1 1100))" } } } data_points { as_double: nan } data_points { as_double: -inf } } }
  metrics { name: "wide" gauge { data_points { as_int: 1 $(for i in $(seq 1 35); do echo "attributes { key: \"k$i\" value { int_value: $i } }"; done) } } }
} }
EOF
emf_seed counter-extremes 128 <<EOF
resource_metrics { scope_metrics {
  metrics { name: "c" sum { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE is_monotonic: true
    data_points { time_unix_nano: 1 as_int: -9223372036854775807 } data_points { time_unix_nano: 2 as_int: 9223372036854775807 } } }
  metrics { name: "d" sum { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE is_monotonic: true
    data_points { time_unix_nano: 1 as_double: -1.7e308 } data_points { time_unix_nano: 2 as_double: 1.7e308 } } }
  metrics { name: "reset" sum { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE is_monotonic: true
    data_points { start_time_unix_nano: 1 time_unix_nano: 5 as_int: 100 } data_points { start_time_unix_nano: 1 time_unix_nano: 6 as_int: 5 } data_points { start_time_unix_nano: 7 time_unix_nano: 8 as_int: 7 } data_points { start_time_unix_nano: 7 time_unix_nano: 3 as_int: 1 } } }
} }
EOF
exp_buckets() { python3 -c 'print(", ".join(str(i % 7 + 1) for i in range(250)))'; }
emf_seed distributions 33 <<EOF
resource_metrics { scope_metrics {
  metrics { name: "exp" unit: "ms" exponential_histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
    data_points { count: 1000 sum: 5000 scale: 3 zero_count: 2 zero_threshold: 0.5 positive { offset: -20 bucket_counts: [$(exp_buckets)] } negative { offset: 1 bucket_counts: [1, 2] } min: -3 max: 9000 } } }
  metrics { name: "exp.cumulative" exponential_histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE
    data_points { time_unix_nano: 1 count: 3 sum: 3 scale: 0 positive { offset: 0 bucket_counts: [3] } }
    data_points { time_unix_nano: 2 count: 5 sum: 9 scale: -1 positive { offset: 0 bucket_counts: [5] } } } }
  metrics { name: "summary" unit: "us" summary { data_points { time_unix_nano: 1 count: 4 sum: 10 quantile_values { quantile: 0 value: 1 } quantile_values { quantile: 1 value: 5 } }
    data_points { time_unix_nano: 2 count: 9 sum: 30 quantile_values { quantile: 0.5 value: 2 } } } }
  metrics { name: "hist.bad" histogram { aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA data_points { count: 3 bucket_counts: [1, 2] explicit_bounds: [1, 2, 3] } data_points { count: 3 bucket_counts: [3] } } }
} }
EOF

# Configs: the default config, the README's example and a few that exercise error paths.
cp "$root/agent/app/vigil.yaml" "$out/fuzz_config/default.yaml"
cat > "$out/fuzz_config/readme.yaml" <<'EOF'
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${env:HOST}:${PORT}
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
  batch:
    timeout: 200ms
exporters:
  file:
    path: /var/lib/vigil/traces.jsonl
    rotation:
      max_megabytes: 100
  debug:
    verbosity: normal
extensions:
  health_check:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file, debug]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [debug]
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:8888
EOF
cat > "$out/fuzz_config/connector.yaml" <<'EOF'
receivers:
  otlp/in:
    protocols: {http: {endpoint: "${env:ENDPOINT:-localhost:4318}", max_request_body_size: 1048576}}
connectors:
  forward:
exporters:
  debug/a: {verbosity: detailed, sending_queue: {enabled: true, queue_size: 10}, retry_on_failure: {enabled: false}}
service:
  shutdown_timeout: 5s
  pipelines:
    logs/in: {receivers: [otlp/in], exporters: [forward]}
    logs/out: {receivers: [forward], processors: [], exporters: ["debug/a"]}
EOF
cat > "$out/fuzz_config/errors.yaml" <<'EOF'
receivers:
  otlp:
    protocols:
      http:
        endpoint: $${literal} ${env:UNSET} ${EMPTY:-x} ${LONG} ${env:REF} ${bad name}
  otlp: {}
  nosuch/x: {a: 1}
processors:
  batch: {timeout: -1s, send_batch_size: "many"}
exporters:
  file: {}
unknown: [1, 2]
service:
  pipelines:
    traces/: {receivers: [otlp], exporters: [missing]}
    bogus: {receivers: [], exporters: [file]}
EOF
cat > "$out/fuzz_config/anchors.yaml" <<'EOF'
base: &b {endpoint: "0.0.0.0:4318"}
receivers:
  otlp:
    protocols:
      http: *b
exporters:
  debug: !!map {verbosity: basic}
service:
  pipelines:
    metrics: {receivers: [otlp], exporters: [debug]}
EOF
printf 'a: &x [*x, *x]\n' > "$out/fuzz_config/self-alias.yaml"
printf '[[[[[[[[[[{a: [1, {b: c}]}]]]]]]]]]]\n' > "$out/fuzz_config/nested.yaml"
printf -- '--- !tag\n? complex\n: "\\x00\\u00e9"\n...\n' > "$out/fuzz_config/odd-syntax.yaml"

echo "seeds: $(find "$out" -type f | wc -l) files, $(du -sb "$out" | cut -f1) bytes"
