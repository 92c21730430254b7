// OTLP codec throughput. Items are log records, spans or metric data points; bytes are the
// encoded request size. Compare Vigil's encoder with libprotobuf serializing the same data,
// both from prebuilt message objects and including building them from the model; and the
// OTLP/JSON decoder with the protobuf one on the same batches (bytes: the JSON text).

#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include <cstdio>
#include <memory>
#include <string>

#include "agent/otlp/json_decoder.hpp"
#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "tests/support/otlp_proto_reference.hpp"

namespace {

using namespace vigil;
using otlp::testing::LogsRequest;
using otlp::testing::MetricsRequest;
using otlp::testing::TraceRequest;

constexpr int kRecords = 1000;

model::Attributes attrs(model::Arena& a, std::initializer_list<model::KeyValue> kvs) {
  model::Attributes out;
  out.reserve(a, kvs.size());
  for (const model::KeyValue& kv : kvs) out.push_back(a, kv);
  return out;
}

model::KeyValue kv_str(model::Arena& a, std::string_view k, std::string_view v) {
  return {a.copy(k), model::AnyValue::string(a.copy(v))};
}

model::Resource service_resource(model::Arena& a) {
  model::Resource r;
  r.attributes = attrs(a, {kv_str(a, "service.name", "checkout"), kv_str(a, "service.version", "1.4.2"),
                           kv_str(a, "host.name", "ip-10-0-3-17"), kv_str(a, "k8s.pod.name", "checkout-7d9f-x2x")});
  return r;
}

std::string hex_id(int i, std::size_t len) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016x%016x", 0x4bf92f35u + static_cast<unsigned>(i), 0x77e1u * static_cast<unsigned>(i));
  return std::string(buf, len);
}

// 1000 records shaped like a ~200-byte JSON log line:
// {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"order placed","trace_id":"4bf9...",
//  "order_id":"ord-000123","latency_ms":12.5,"customer_id":"cus-4821","http.route":"/api/orders"}
model::Batch logs_batch() {
  model::Batch batch(model::Signal::kLogs);
  model::Arena& a = batch.arena();
  model::ResourceLogs& rl = batch.resource_logs().emplace_back(a);
  rl.resource = service_resource(a);
  model::ScopeLogs& sl = rl.scope_logs.emplace_back(a);
  sl.scope.name = a.copy("vigil.filelog");
  sl.log_records.reserve(a, kRecords);
  for (int i = 0; i < kRecords; ++i) {
    model::LogRecord& r = sl.log_records.emplace_back(a);
    r.time_unix_nano = 1714564800123000000ull + static_cast<std::uint64_t>(i) * 1000;
    r.observed_time_unix_nano = r.time_unix_nano + 500;
    r.severity_number = 9;
    r.severity_text = a.copy("info");
    r.body = model::AnyValue::string(a.copy("order placed for customer, payment authorised"));
    char order[32];
    std::snprintf(order, sizeof order, "ord-%06d", i);
    r.attributes = attrs(a, {kv_str(a, "trace_id", hex_id(i, 32)), kv_str(a, "order_id", order),
                             {a.copy("latency_ms"), model::AnyValue::floating(12.5 + i % 50)},
                             kv_str(a, "customer_id", "cus-4821"), kv_str(a, "http.route", "/api/orders")});
    for (std::size_t b = 0; b < 16; ++b) r.trace_id[b] = static_cast<std::uint8_t>(i + b + 1);
    for (std::size_t b = 0; b < 8; ++b) r.span_id[b] = static_cast<std::uint8_t>(i * 3 + b + 1);
  }
  return batch;
}

model::Batch traces_batch() {
  model::Batch batch(model::Signal::kTraces);
  model::Arena& a = batch.arena();
  model::ResourceSpans& rs = batch.resource_spans().emplace_back(a);
  rs.resource = service_resource(a);
  model::ScopeSpans& ss = rs.scope_spans.emplace_back(a);
  ss.scope.name = a.copy("io.opentelemetry.http");
  ss.scope.version = a.copy("1.32.0");
  ss.spans.reserve(a, kRecords);
  for (int i = 0; i < kRecords; ++i) {
    model::Span& s = ss.spans.emplace_back(a);
    for (std::size_t b = 0; b < 16; ++b) s.trace_id[b] = static_cast<std::uint8_t>(i / 10 + b + 1);
    for (std::size_t b = 0; b < 8; ++b) s.span_id[b] = static_cast<std::uint8_t>(i + b + 1);
    if (i % 10 != 0) for (std::size_t b = 0; b < 8; ++b) s.parent_span_id[b] = static_cast<std::uint8_t>(i - 1 + b + 1);
    s.flags = 0x101;
    s.name = a.copy("POST /api/orders");
    s.kind = model::SpanKind::kServer;
    s.start_time_unix_nano = 1714564800123000000ull + static_cast<std::uint64_t>(i) * 100000;
    s.end_time_unix_nano = s.start_time_unix_nano + 12500000;
    s.attributes = attrs(a, {kv_str(a, "http.request.method", "POST"), kv_str(a, "http.route", "/api/orders"),
                             {a.copy("http.response.status_code"), model::AnyValue::integer(200)},
                             kv_str(a, "server.address", "checkout.shop.svc"),
                             kv_str(a, "order_id", "ord-000123"), kv_str(a, "user_agent.original", "shop-loadgen/1.0")});
    if (i % 20 == 0) {
      model::SpanEvent& e = s.events.emplace_back(a);
      e.time_unix_nano = s.start_time_unix_nano + 1000;
      e.name = a.copy("exception");
      e.attributes = attrs(a, {kv_str(a, "exception.message", "payment declined")});
      s.status.code = model::StatusCode::kError;
      s.status.message = a.copy("payment declined");
    }
  }
  return batch;
}

// 50 metrics, 1000 points: 20 gauges and 20 sums with 20 points each (different attributes),
// 10 histograms with 20 points of 12 buckets.
model::Batch metrics_batch() {
  model::Batch batch(model::Signal::kMetrics);
  model::Arena& a = batch.arena();
  model::ResourceMetrics& rm = batch.resource_metrics().emplace_back(a);
  rm.resource = service_resource(a);
  model::ScopeMetrics& sm = rm.scope_metrics.emplace_back(a);
  sm.scope.name = a.copy("vigil.hostmetrics");
  const std::uint64_t t0 = 1714564800000000000ull;
  for (int m = 0; m < 50; ++m) {
    model::Metric& metric = sm.metrics.emplace_back(a);
    metric.name = a.copy("system.metric." + std::to_string(m));
    metric.unit = a.copy(m < 40 ? "By" : "ms");
    metric.type = m < 20 ? model::MetricType::kGauge : m < 40 ? model::MetricType::kSum : model::MetricType::kHistogram;
    metric.aggregation_temporality = model::AggregationTemporality::kCumulative;
    metric.is_monotonic = metric.type == model::MetricType::kSum;
    for (int p = 0; p < 20; ++p) {
      model::Attributes pa = attrs(a, {kv_str(a, "device", "dev" + std::to_string(p)), kv_str(a, "state", "used")});
      if (metric.type == model::MetricType::kHistogram) {
        model::HistogramDataPoint& hp = metric.histogram_points.emplace_back(a);
        hp.attributes = pa;
        hp.start_time_unix_nano = t0;
        hp.time_unix_nano = t0 + 10000000000ull;
        hp.count = 1000;
        hp.sum = 12345.5;
        hp.min = 0.5;
        hp.max = 980.0;
        static const double bounds[] = {5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500};
        static const std::uint64_t counts[] = {10, 20, 50, 100, 200, 300, 150, 100, 40, 20, 8, 2};
        hp.explicit_bounds.assign(a, bounds, 11);
        hp.bucket_counts.assign(a, counts, 12);
      } else {
        model::NumberDataPoint& np = metric.number_points.emplace_back(a);
        np.attributes = pa;
        np.start_time_unix_nano = t0;
        np.time_unix_nano = t0 + 10000000000ull;
        if (metric.type == model::MetricType::kSum) {
          np.is_int = true;
          np.as_int = 1000000 + p * 17;
        } else {
          np.as_double = 0.25 * p;
        }
      }
    }
  }
  return batch;
}

model::Batch make(model::Signal s) {
  switch (s) {
    case model::Signal::kLogs: return logs_batch();
    case model::Signal::kTraces: return traces_batch();
    case model::Signal::kMetrics: return metrics_batch();
  }
  return model::Batch(s);
}

template <model::Signal kSignal>
void BM_VigilEncode(benchmark::State& state) {
  model::Batch batch = make(kSignal);
  const auto items = static_cast<std::int64_t>(batch.item_count());
  std::string out;
  for (auto _ : state) {
    otlp::encode_export_request(batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
  state.counters["request_bytes"] = static_cast<double>(out.size());
}

template <model::Signal kSignal>
void BM_VigilDecode(benchmark::State& state) {
  model::Batch source = make(kSignal);
  const auto items = static_cast<std::int64_t>(source.item_count());
  std::string bytes;
  otlp::encode_export_request(source, bytes);
  std::string error;
  for (auto _ : state) {
    model::Batch batch(kSignal);
    if (!otlp::decode_export_request(kSignal, bytes, batch, error)) state.SkipWithError(error.c_str());
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

// The same batch as OTLP/JSON (as Vigil's JSON encoder writes it, like an SDK's JSON exporter
// would: hex ids, 64-bit integers as strings) decoded with simdjson.
template <model::Signal kSignal>
void BM_VigilJsonDecode(benchmark::State& state) {
  model::Batch source = make(kSignal);
  const auto items = static_cast<std::int64_t>(source.item_count());
  std::string json;
  otlp::encode_json(source, json);
  std::string error;
  for (auto _ : state) {
    model::Batch batch(kSignal);
    if (!otlp::decode_json_export_request(kSignal, json, batch, error)) state.SkipWithError(error.c_str());
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(json.size()));
  state.counters["request_bytes"] = static_cast<double>(json.size());
}

template <model::Signal kSignal>
struct RequestOf;
template <>
struct RequestOf<model::Signal::kLogs> { using type = LogsRequest; };
template <>
struct RequestOf<model::Signal::kTraces> { using type = TraceRequest; };
template <>
struct RequestOf<model::Signal::kMetrics> { using type = MetricsRequest; };

// libprotobuf serializing a message that already exists.
template <model::Signal kSignal>
void BM_LibprotobufSerialize(benchmark::State& state) {
  model::Batch batch = make(kSignal);
  const auto items = static_cast<std::int64_t>(batch.item_count());
  typename RequestOf<kSignal>::type request;
  otlp::testing::to_proto(batch, request);
  std::string out;
  for (auto _ : state) {
    request.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

// libprotobuf from the model: build the messages (on a protobuf arena), then serialize. This is
// what an exporter would pay if it went through libprotobuf.
template <model::Signal kSignal>
void BM_LibprotobufBuildAndSerialize(benchmark::State& state) {
  model::Batch batch = make(kSignal);
  const auto items = static_cast<std::int64_t>(batch.item_count());
  std::string out;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<typename RequestOf<kSignal>::type>(&arena);
    otlp::testing::to_proto(batch, *request);
    request->SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

// libprotobuf parsing alone (on an arena): the floor under Vigil's decoder, which parses with it.
template <model::Signal kSignal>
void BM_LibprotobufParse(benchmark::State& state) {
  model::Batch batch = make(kSignal);
  const auto items = static_cast<std::int64_t>(batch.item_count());
  std::string bytes;
  otlp::encode_export_request(batch, bytes);
  // Same arena setup as the decoder (reused 256 KiB first block), so the difference between the
  // two is the conversion into the model.
  static std::unique_ptr<char[]> scratch(new char[256 * 1024]);
  google::protobuf::ArenaOptions options;
  options.initial_block = scratch.get();
  options.initial_block_size = 256 * 1024;
  options.start_block_size = 64 * 1024;
  options.max_block_size = 1024 * 1024;
  for (auto _ : state) {
    google::protobuf::Arena arena(options);
    auto* request = google::protobuf::Arena::CreateMessage<typename RequestOf<kSignal>::type>(&arena);
    if (!request->ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

constexpr auto kLogs = model::Signal::kLogs;
constexpr auto kTraces = model::Signal::kTraces;
constexpr auto kMetrics = model::Signal::kMetrics;

BENCHMARK(BM_VigilEncode<kLogs>)->Name("VigilEncode/logs_1000");
BENCHMARK(BM_LibprotobufSerialize<kLogs>)->Name("LibprotobufSerialize/logs_1000");
BENCHMARK(BM_LibprotobufBuildAndSerialize<kLogs>)->Name("LibprotobufBuildAndSerialize/logs_1000");
BENCHMARK(BM_VigilDecode<kLogs>)->Name("VigilDecode/logs_1000");
BENCHMARK(BM_LibprotobufParse<kLogs>)->Name("LibprotobufParse/logs_1000");
BENCHMARK(BM_VigilJsonDecode<kLogs>)->Name("VigilJsonDecode/logs_1000");

BENCHMARK(BM_VigilEncode<kTraces>)->Name("VigilEncode/spans_1000");
BENCHMARK(BM_LibprotobufSerialize<kTraces>)->Name("LibprotobufSerialize/spans_1000");
BENCHMARK(BM_LibprotobufBuildAndSerialize<kTraces>)->Name("LibprotobufBuildAndSerialize/spans_1000");
BENCHMARK(BM_VigilDecode<kTraces>)->Name("VigilDecode/spans_1000");
BENCHMARK(BM_LibprotobufParse<kTraces>)->Name("LibprotobufParse/spans_1000");
BENCHMARK(BM_VigilJsonDecode<kTraces>)->Name("VigilJsonDecode/spans_1000");

BENCHMARK(BM_VigilEncode<kMetrics>)->Name("VigilEncode/points_1000");
BENCHMARK(BM_LibprotobufSerialize<kMetrics>)->Name("LibprotobufSerialize/points_1000");
BENCHMARK(BM_LibprotobufBuildAndSerialize<kMetrics>)->Name("LibprotobufBuildAndSerialize/points_1000");
BENCHMARK(BM_VigilDecode<kMetrics>)->Name("VigilDecode/points_1000");
BENCHMARK(BM_LibprotobufParse<kMetrics>)->Name("LibprotobufParse/points_1000");
BENCHMARK(BM_VigilJsonDecode<kMetrics>)->Name("VigilJsonDecode/points_1000");

}  // namespace

BENCHMARK_MAIN();
