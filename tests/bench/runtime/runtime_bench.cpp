// Throughput of the exporter's sending queue and of the batch processor, with batches of 100 log
// records and a consumer that does nothing, so the figures are the runtime's own overhead.
//
// Batches are made with Batch::share() of one prototype (what fan-out to exporters does);
// BM_BatchShare measures that part alone.

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include "agent/processors/batch/batch_processor.hpp"
#include "agent/runtime/exporter_helper.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::component::Clock;
using vigil::component::Status;
using vigil::model::Batch;
using vigil::model::Signal;

Batch make_logs(std::size_t count) {
  Batch b(Signal::kLogs);
  auto& rl = b.resource_logs().emplace_back(b.arena());
  auto& sl = rl.scope_logs.emplace_back(b.arena());
  sl.log_records.reserve(b.arena(), count);
  std::string_view body = b.arena().copy("GET /api/orders 200 12ms");
  for (std::size_t i = 0; i < count; ++i) {
    auto& r = sl.log_records.emplace_back(b.arena());
    r.time_unix_nano = i;
    r.body = vigil::model::AnyValue::string(body);
  }
  return b;
}

class NullHost : public vigil::component::Host {
 public:
  boost::asio::io_context& io_context() override { return io_; }
  vigil::telemetry::Telemetry& telemetry() override { return telemetry_; }
  vigil::component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }

 private:
  boost::asio::io_context io_;
  vigil::telemetry::Telemetry telemetry_;
};

class NullSender : public vigil::component::Sender {
 public:
  Status start(vigil::component::Host&) override { return Status::ok(); }
  void shutdown(vigil::component::Deadline) override {}
  Status send(const Batch& b) override {
    benchmark::DoNotOptimize(b.item_count());
    return Status::ok();
  }
};

class NullConsumer : public vigil::component::Consumer {
 public:
  Status consume(Batch&& b) override {
    benchmark::DoNotOptimize(b.item_count());
    return Status::ok();
  }
};

void BM_BatchShare(benchmark::State& state) {
  Batch proto = make_logs(100);
  for (auto _ : state) {
    Batch b = proto.share();
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 100);
}
BENCHMARK(BM_BatchShare);

// One producer enqueues; range(0) consumers dequeue and "send". block_on_overflow makes the
// producer wait when the consumers fall behind, so this is end-to-end queue throughput.
void BM_ExporterQueue(benchmark::State& state) {
  NullHost host;
  vigil::runtime::QueueSettings q;
  q.num_consumers = static_cast<int>(state.range(0));
  q.queue_size = 1000;
  q.block_on_overflow = true;
  vigil::runtime::ExporterHelper ex("otlp", Signal::kLogs, std::make_unique<NullSender>(), q, {}, host.telemetry());
  if (!ex.start(host).is_ok()) state.SkipWithError("start failed");
  Batch proto = make_logs(100);
  for (auto _ : state) {
    if (!ex.consume(proto.share()).is_ok()) state.SkipWithError("refused");
  }
  ex.shutdown(Clock::now() + 10s);  // drains the last <= 1000 batches
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 100);
}
BENCHMARK(BM_ExporterQueue)->Arg(1)->Arg(4)->UseRealTime();

// 100-record batches into a batch processor with send_batch_size 8192 (a send every 82 batches).
void BM_BatchProcessor(benchmark::State& state) {
  NullHost host;
  NullConsumer next;
  vigil::processors::BatchSettings s;  // 8192, no max, 200ms
  s.send_batch_max_size = static_cast<std::size_t>(state.range(0));
  vigil::processors::BatchProcessor p("batch", Signal::kLogs, "logs", next, s, host.telemetry());
  if (!p.start(host).is_ok()) state.SkipWithError("start failed");
  Batch proto = make_logs(100);
  for (auto _ : state) {
    if (!p.consume(proto.share()).is_ok()) state.SkipWithError("refused");
  }
  p.shutdown(Clock::now() + 1s);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 100);
}
BENCHMARK(BM_BatchProcessor)->Arg(0)->Arg(8192)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
