// The correlation processor and the kpi connector (default pack plus 5 rules of a user: 10 rules
// over logs) on log records shaped like the demo shop's JSON lines after filelog's json_parser.
// Reports the time per record on one thread and the heap allocations per record (a counting
// global operator new, active only around consume()). Figures: docs/benchmarks.md.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/loader.hpp"
#include "agent/config/schema.hpp"
#include "agent/connectors/kpi/kpi_connector.hpp"
#include "agent/processors/correlation/correlation_processor.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "examples/shop/shop_traffic.hpp"

#include "tests/support/counting_new.hpp"

namespace {

using namespace vigil;
namespace shop = vigil::examples::shop;

class BenchHost : public component::Host {
 public:
  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }

 private:
  boost::asio::io_context io_;
  telemetry::Telemetry telemetry_;
};

// Takes the connector's metrics and drops them.
class NullConsumer : public component::Consumer {
 public:
  component::Status consume(model::Batch&&) override { return component::Status::ok(); }
};

constexpr const char* kKpiConfig = R"(
interval: 1h
packs: [default]
rules:
  - name: order_amount_total
    where: 'attributes["event"] == "order.created"'
    value: 'attributes["amount"]'
    labels: [currency]
  - name: order_value
    type: histogram
    buckets: [10, 25, 50, 100, 200]
    where: 'attributes["event"] == "order.created"'
    value: 'Double(attributes["amount"])'
    labels: [region]
  - name: error_lines_total
    where: 'attributes["level"] == "error"'
    labels: [event]
  - name: eu_orders_total
    where: 'attributes["event"] == "order.created" and IsMatch(attributes["region"], "^eu-")'
  - name: last_order_amount
    type: gauge
    where: 'attributes["event"] == "order.created"'
    value: 'attributes["amount"]'
)";

struct Component {
  config::Value node;
  std::unique_ptr<config::Settings> settings;
};

Component settings_for(const component::Factory& f, const std::string& yaml) {
  Component c;
  config::Errors errors;
  c.node = config::parse_yaml(yaml, "bench.yaml", errors);
  config::validate(f.schema, &c.node, config::Location{"bench.yaml", 1, 1}, f.type, errors);
  c.settings = std::make_unique<config::Settings>(&f.schema, &c.node, config::Location{"bench.yaml", 1, 1});
  if (errors.empty() && f.validate) f.validate(*c.settings, f.type, errors);
  for (const auto& e : errors) std::fprintf(stderr, "config: %s\n", e.str().c_str());
  if (!errors.empty()) std::abort();
  return c;
}

// One batch of log records as filelog's json_parser makes them from the shop's lines.
model::Batch shop_batch(std::size_t records) {
  shop::Settings s;
  s.seed = 42;
  s.orders = static_cast<int>(records);  // about 4 log lines per order
  s.with_otlp = false;
  const auto events = shop::generate(s);
  model::Batch b(model::Signal::kLogs);
  auto& arena = b.arena();
  auto& rl = b.resource_logs().emplace_back(arena);
  auto& sl = rl.scope_logs.emplace_back(arena);
  auto text = [&](const std::string& v) { return arena.copy(v); };
  for (const auto& e : events) {
    if (sl.log_records.size() == records) break;
    const std::string line = shop::json_line(e);
    if (line.empty()) continue;
    model::LogRecord r;
    r.time_unix_nano = static_cast<std::uint64_t>(e.time_ms) * 1000000ULL;
    r.body = model::AnyValue::string(text(line));
    auto add = [&](const char* key, model::AnyValue v) { r.attributes.push_back(arena, model::KeyValue{key, v}); };
    auto add_str = [&](const char* key, const std::string& v) {
      if (!v.empty()) add(key, model::AnyValue::string(text(v)));
    };
    add_str("time", shop::rfc3339(e.time_ms));
    add_str("level", e.kind == shop::Kind::kOrderFailed || e.kind == shop::Kind::kWebhookFailed ? "error" : "info");
    add_str("event", shop::event_name(e.kind));
    add_str("request_id", e.request_id);
    add_str("trace_id", e.trace_id);
    add_str("order_id", e.order_id);
    if (!e.payment_method.empty()) {
      add("amount", model::AnyValue::floating(e.amount));
      add_str("currency", e.currency);
      add_str("payment_method", e.payment_method);
      add_str("region", e.region);
    }
    add_str("provider", e.provider);
    if (e.status != 0) add("status", model::AnyValue::integer(e.status));
    add_str("queue", e.queue);
    if (e.enqueued_at_ms != 0) add("enqueued_at", model::AnyValue::integer(e.enqueued_at_ms));
    sl.log_records.push_back(arena, r);
  }
  return b;
}

// What runs: the correlation processor, the kpi connector, or both (correlation, then kpi).
enum Stages { kCorrelation = 1, kKpi = 2, kBoth = 3 };

void BM_Pipeline(benchmark::State& state, Stages stages) {
  const std::size_t records = static_cast<std::size_t>(state.range(0));
  BenchHost host;
  NullConsumer sink;
  const auto kpi_factory = connectors::kpi_connector_factory();
  const auto corr_factory = processors::correlation_processor_factory();
  Component kpi_cfg = settings_for(kpi_factory, kKpiConfig);
  Component corr_cfg = settings_for(corr_factory, "{}");
  component::CreateSettings kcs{"kpi", *kpi_cfg.settings, host.telemetry(), ""};
  auto kpi = kpi_factory.create_connector(kcs, model::Signal::kLogs, model::Signal::kMetrics, sink);
  component::CreateSettings ccs{"correlation", *corr_cfg.settings, host.telemetry(), "logs"};
  auto corr = corr_factory.create_processor(ccs, model::Signal::kLogs,
                                           stages == kCorrelation ? static_cast<component::Consumer&>(sink) : *kpi);
  if (!kpi->start(host).is_ok() || !corr->start(host).is_ok()) std::abort();
  component::Consumer& head = stages == kKpi ? static_cast<component::Consumer&>(*kpi) : *corr;

  const model::Batch original = shop_batch(records);
  const std::size_t n = original.item_count();
  // Warm up: label values, series and join entries exist before measuring.
  head.consume(original.deep_copy());
  std::uint64_t allocations = 0, processed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    model::Batch b = original.deep_copy();
    state.ResumeTiming();
    vigil::testing::alloc::Scope counter;
    auto status = head.consume(std::move(b));
    allocations += static_cast<std::uint64_t>(counter.value());
    benchmark::DoNotOptimize(status);
    processed += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(processed));
  state.counters["ns_per_record"] =
      benchmark::Counter(static_cast<double>(processed), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_record"] = static_cast<double>(allocations) / static_cast<double>(processed);
  corr->shutdown(component::Clock::now());
  kpi->shutdown(component::Clock::now());
}

}  // namespace

BENCHMARK_CAPTURE(BM_Pipeline, correlation_and_kpi, kBoth)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Pipeline, correlation, kCorrelation)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Pipeline, kpi, kKpi)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  // The agent's malloc settings (agent/app/main.cpp): arena chunks come from the heap, not from
  // fresh mmaps whose page faults would be measured as the processors' time.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
