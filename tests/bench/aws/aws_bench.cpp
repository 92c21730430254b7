// The CPU side of sending to AWS, without the network: SigV4 signing of PutLogEvents requests
// (1 MiB and small bodies; SHA-256 of the body alone for comparison), CloudWatch Logs request
// planning and JSON encoding of ~200-byte log lines, and the awsemf translation of a KPI-like
// metrics batch (cumulative counters with 2-3 labels, histograms) into EMF documents.
// Reports ns per operation, per event or per data point, and heap allocations per unit (a
// counting global operator new, active only around the measured call). Figures:
// docs/benchmarks.md.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/aws/sigv4.hpp"
#include "agent/model/batch.hpp"
#include "exporters/awsemf/emf_translator.hpp"
#include "tests/support/counting_new.hpp"

namespace {

using namespace vigil;
namespace alloc = vigil::testing::alloc;

constexpr std::int64_t kNowMs = 1'700'000'000'000;

// ---- SigV4 -------------------------------------------------------------------------------------

aws::Credentials temporary_credentials() {
  aws::Credentials c;
  c.access_key_id = "ASIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  // Temporary credentials (IRSA, ECS, IMDS) carry a session token of this order of size.
  c.session_token = std::string(900, 'T');
  return c;
}

// A PutLogEvents request as the CloudWatch Logs client signs it.
void BM_SignPutLogEvents(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  const aws::Credentials creds = temporary_credentials();
  aws::SignableRequest req;
  req.method = "POST";
  req.url = "https://logs.eu-west-1.amazonaws.com/";
  req.headers = {{"content-type", "application/x-amz-json-1.1"},
                 {"x-amz-target", "Logs_20140328.PutLogEvents"}};
  req.body = body;
  aws::SigningOptions options;
  options.region = "eu-west-1";
  options.service = "logs";
  options.time = std::chrono::system_clock::time_point(std::chrono::seconds(kNowMs / 1000));
  std::int64_t allocations = 0;
  for (auto _ : state) {
    alloc::Scope counter;
    aws::Signature sig = aws::sign(req, creds, options);
    allocations += counter.value();
    benchmark::DoNotOptimize(sig);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  state.counters["allocs_per_op"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations());
}

// The body's SHA-256 alone: the part of signing that grows with the body.
void BM_Sha256(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(aws::sha256_hex(body));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// ---- CloudWatch Logs: planning and encoding ----------------------------------------------------

// ~200-byte JSON log lines (as filelog passes them on: the line is the message), with quotes to
// escape, timestamps one millisecond apart and every 50th line a little out of order.
std::vector<aws::LogEvent> log_lines(std::size_t n) {
  static const char* kLevels[] = {"info", "info", "info", "warn", "error"};
  static const char* kEvents[] = {"order.created", "payment.captured", "webhook.delivered", "job.finished"};
  std::vector<aws::LogEvent> out;
  out.reserve(n);
  char buf[512];
  for (std::size_t i = 0; i < n; ++i) {
    const int len = std::snprintf(
        buf, sizeof buf,
        R"({"time":"2023-11-14T22:13:20.%03zuZ","level":"%s","event":"%s","request_id":"req-%08zx",)"
        R"("order_id":"o-%06zu","amount":%zu.%02zu,"currency":"EUR","region":"eu-west-1","latency_ms":%zu})",
        i % 1000, kLevels[i % 5], kEvents[i % 4], i * 2654435761u, i, i % 500, i % 100, i % 250);
    aws::LogEvent e;
    e.timestamp_ms = kNowMs - 3'600'000 + static_cast<std::int64_t>(i) - (i % 50 == 0 ? 20 : 0);
    e.message.assign(buf, static_cast<std::size_t>(len));
    out.push_back(std::move(e));
  }
  return out;
}

double mean_size(const std::vector<aws::LogEvent>& events) {
  double bytes = 0;
  for (const auto& e : events) bytes += static_cast<double>(e.message.size());
  return bytes / static_cast<double>(events.size());
}

enum class CwStage { kPlan, kEncode, kPlanEncodeSign };

// kPlan: plan_requests (UTF-8 check, sort, split); kEncode: put_log_events_body of the planned
// requests; kPlanEncodeSign: both, then SigV4 of each request body (the client's CPU work per
// put() without the HTTP exchange).
void BM_CloudWatchLogs(benchmark::State& state, CwStage stage) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::vector<aws::LogEvent> events = log_lines(n);
  aws::PlanCounts counts;
  const auto planned = aws::plan_requests(events, kNowMs, counts);
  const aws::Credentials creds = temporary_credentials();
  aws::SigningOptions options;
  options.region = "eu-west-1";
  options.service = "logs";
  options.time = std::chrono::system_clock::time_point(std::chrono::seconds(kNowMs / 1000));
  std::int64_t allocations = 0, body_bytes = 0;
  for (auto _ : state) {
    std::vector<aws::LogEvent> copy;
    if (stage != CwStage::kEncode) {
      state.PauseTiming();
      copy = events;  // plan_requests takes its events; the exporter hands over the ones it built
      state.ResumeTiming();
    }
    alloc::Scope counter;
    if (stage == CwStage::kEncode) {
      for (const auto& r : planned) {
        std::string body = aws::put_log_events_body("/aws/vigil/shop", "web-1", r);
        body_bytes += static_cast<std::int64_t>(body.size());
        benchmark::DoNotOptimize(body);
      }
    } else {
      aws::PlanCounts c;
      auto requests = aws::plan_requests(std::move(copy), kNowMs, c);
      if (stage == CwStage::kPlanEncodeSign) {
        for (const auto& r : requests) {
          std::string body = aws::put_log_events_body("/aws/vigil/shop", "web-1", r);
          body_bytes += static_cast<std::int64_t>(body.size());
          aws::SignableRequest req{"POST",
                                   "https://logs.eu-west-1.amazonaws.com/",
                                   {{"content-type", "application/x-amz-json-1.1"},
                                    {"x-amz-target", "Logs_20140328.PutLogEvents"}},
                                   body};
          benchmark::DoNotOptimize(aws::sign(req, creds, options));
        }
      }
      benchmark::DoNotOptimize(requests);
      allocations += counter.value();
      // Freeing the planned events is part of the work, inside the timing.
    }
    if (stage == CwStage::kEncode) allocations += counter.value();
  }
  const double processed = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(processed));
  state.counters["ns_per_event"] =
      benchmark::Counter(processed, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_event"] = static_cast<double>(allocations) / processed;
  state.counters["requests"] = static_cast<double>(planned.size());
  state.counters["message_bytes"] = mean_size(events);
  if (body_bytes > 0) state.counters["body_bytes_per_event"] = static_cast<double>(body_bytes) / processed;
}

// ---- awsemf ------------------------------------------------------------------------------------

// A KPI-like batch, as the kpi connector exports it every interval: cumulative monotonic counters
// labelled by region, currency and status (3 labels: 6 x 4 x 5 = 120 series each), histograms by
// region and currency (2 labels, 24 series, 6 buckets), gauges by region.
constexpr const char* kRegions[] = {"eu-west-1", "eu-central-1", "us-east-1",
                                    "us-west-2", "ap-south-1",   "sa-east-1"};
constexpr const char* kCurrencies[] = {"EUR", "USD", "GBP", "JPY"};
constexpr const char* kStatuses[] = {"ok", "failed", "refunded", "pending", "cancelled"};

struct KpiBatch {
  model::Batch batch{model::Signal::kMetrics};
  std::size_t points = 0;
};

KpiBatch kpi_batch() {
  KpiBatch k;
  model::Batch& b = k.batch;
  model::Arena& a = b.arena();
  auto& rm = b.resource_metrics().emplace_back(a);
  auto attr = [&](model::Attributes& attrs, const char* key, const char* value) {
    attrs.push_back(a, model::KeyValue{a.copy(key), model::AnyValue::string(a.copy(value))});
  };
  attr(rm.resource.attributes, "service.name", "shop");
  attr(rm.resource.attributes, "service.namespace", "demo");
  attr(rm.resource.attributes, "host.name", "web-1");
  auto& sm = rm.scope_metrics.emplace_back(a);
  sm.scope.name = a.copy("vigil.kpi");
  const std::uint64_t start = static_cast<std::uint64_t>(kNowMs - 86'400'000) * 1'000'000;
  const std::uint64_t time = static_cast<std::uint64_t>(kNowMs) * 1'000'000;
  for (const char* name : {"orders_total", "order_amount_total", "payments_total", "refunds_total",
                           "webhook_attempts_total", "error_lines_total"}) {
    auto& m = sm.metrics.emplace_back(a);
    m.name = a.copy(name);
    m.unit = a.copy("1");
    m.type = model::MetricType::kSum;
    m.aggregation_temporality = model::AggregationTemporality::kCumulative;
    m.is_monotonic = true;
    for (const char* r : kRegions) {
      for (const char* c : kCurrencies) {
        for (const char* s : kStatuses) {
          auto& p = m.number_points.emplace_back(a);
          attr(p.attributes, "region", r);
          attr(p.attributes, "currency", c);
          attr(p.attributes, "status", s);
          p.start_time_unix_nano = start;
          p.time_unix_nano = time;
          p.is_int = true;
          p.as_int = 1000;
          ++k.points;
        }
      }
    }
  }
  for (const char* name : {"order_value", "checkout_latency"}) {
    auto& m = sm.metrics.emplace_back(a);
    m.name = a.copy(name);
    m.unit = a.copy("ms");
    m.type = model::MetricType::kHistogram;
    m.aggregation_temporality = model::AggregationTemporality::kCumulative;
    const double bounds[] = {10, 25, 50, 100, 200};
    const std::uint64_t counts[] = {10, 20, 40, 20, 8, 2};
    for (const char* r : kRegions) {
      for (const char* c : kCurrencies) {
        auto& p = m.histogram_points.emplace_back(a);
        attr(p.attributes, "region", r);
        attr(p.attributes, "currency", c);
        p.start_time_unix_nano = start;
        p.time_unix_nano = time;
        p.explicit_bounds.assign(a, bounds, 5);
        p.bucket_counts.assign(a, counts, 6);
        p.count = 100;
        p.sum = 5000;
        ++k.points;
      }
    }
  }
  auto& g = sm.metrics.emplace_back(a);
  g.name = a.copy("queue_depth");
  g.type = model::MetricType::kGauge;
  for (const char* r : kRegions) {
    auto& p = g.number_points.emplace_back(a);
    attr(p.attributes, "region", r);
    p.time_unix_nano = time;
    p.as_double = 3;
    ++k.points;
  }
  return k;
}

// The next interval: a minute later, every counter and bucket grown.
void advance(model::Batch& b, std::uint64_t step) {
  const std::uint64_t minute = 60'000'000'000ULL;
  for (auto& rm : b.resource_metrics()) {
    for (auto& sm : rm.scope_metrics) {
      for (auto& m : sm.metrics) {
        for (auto& p : m.number_points) {
          p.time_unix_nano += minute;
          p.as_int += static_cast<std::int64_t>(1 + step % 7);
        }
        for (auto& p : m.histogram_points) {
          p.time_unix_nano += minute;
          for (std::size_t i = 0; i < p.bucket_counts.size(); ++i) p.bucket_counts[i] += 1 + (i + step) % 3;
          p.count += 6 + 6;  // the sum of the increments above over 6 buckets
          p.sum = p.sum.value_or(0) + 600;
        }
      }
    }
  }
}

void BM_EmfTranslate(benchmark::State& state) {
  KpiBatch k = kpi_batch();
  exporters::awsemf::TranslatorOptions options;
  options.metric_namespace = "";  // service.namespace/service.name
  options.max_series = 100'000;   // measure the translation, not the folding of the cost guard
  auto clock = std::make_shared<std::chrono::system_clock::time_point>(std::chrono::milliseconds(kNowMs));
  options.now = [clock] { return *clock; };
  std::string error;
  auto translator = exporters::awsemf::Translator::create(options, nullptr, error);
  if (!translator) std::abort();
  exporters::awsemf::TranslateStats warm;
  translator->translate(k.batch, warm);  // the baseline of every cumulative series
  std::uint64_t step = 0;
  std::int64_t allocations = 0, documents = 0, bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    advance(k.batch, ++step);
    state.ResumeTiming();
    alloc::Scope counter;
    exporters::awsemf::TranslateStats stats;
    std::vector<exporters::awsemf::Document> docs = translator->translate(k.batch, stats);
    allocations += counter.value();
    documents += static_cast<std::int64_t>(docs.size());
    for (const auto& d : docs) bytes += static_cast<std::int64_t>(d.json.size());
    benchmark::DoNotOptimize(docs);
  }
  const double processed = static_cast<double>(state.iterations()) * static_cast<double>(k.points);
  state.SetItemsProcessed(static_cast<std::int64_t>(processed));
  state.counters["ns_per_point"] =
      benchmark::Counter(processed, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_point"] = static_cast<double>(allocations) / processed;
  state.counters["points"] = static_cast<double>(k.points);
  state.counters["docs"] = static_cast<double>(documents) / static_cast<double>(state.iterations());
  state.counters["json_bytes_per_point"] = static_cast<double>(bytes) / processed;
}

}  // namespace

BENCHMARK(BM_SignPutLogEvents)->Arg(1 << 20)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sha256)->Arg(1 << 20)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CloudWatchLogs, plan, CwStage::kPlan)->Arg(10'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CloudWatchLogs, encode, CwStage::kEncode)->Arg(10'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CloudWatchLogs, plan_encode_sign, CwStage::kPlanEncodeSign)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EmfTranslate)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  // The agent's malloc settings (agent/app/main.cpp), as in the other benchmarks.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
