#include "agent/processors/batch/batch_processor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <numeric>

#include "agent/runtime/exporter_helper.hpp"
#include "tests/support/config_test_support.hpp"
#include "tests/support/runtime_test_support.hpp"

// Lets FailThreadCreation make std::thread throw in this executable (see runtime_test_support.hpp).
extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) noexcept {
  return vigil::testing::failing_pthread_create(t, a, f, arg);
}

namespace vigil::testing {
namespace {

using processors::BatchProcessor;
using processors::BatchSettings;

BatchSettings batch_settings(std::size_t size, std::size_t max, std::chrono::nanoseconds timeout) {
  BatchSettings s;
  s.send_batch_size = size;
  s.send_batch_max_size = max;
  s.timeout = timeout;
  return s;
}

struct Fixture {
  FakeHost host;
  RecordingConsumer next;
  telemetry::ProcessorMetrics metrics = host.telemetry().processor("batch", Signal::kLogs, "logs");

  std::unique_ptr<BatchProcessor> make(BatchSettings s) {
    auto p = std::make_unique<BatchProcessor>("batch", Signal::kLogs, "logs", next, s, host.telemetry());
    REQUIRE(p->start(host).is_ok());
    return p;
  }
};

TEST_CASE("batch processor: reaching send_batch_size flushes right away, in the caller") {
  Fixture f;
  auto p = f.make(batch_settings(100, 0, 10s));
  CHECK(p->consume(make_logs(60, 0)).is_ok());
  CHECK(f.next.sizes.empty());
  CHECK(p->pending_items() == 60);
  CHECK(p->consume(make_logs(60, 60)).is_ok());
  // Delivered before consume returned.
  REQUIRE(f.next.sizes.size() == 1);
  CHECK(f.next.sizes[0] == 120);
  CHECK(f.next.ids == iota_ids(120));
  CHECK(p->pending_items() == 0);
  p->shutdown(Clock::now() + 1s);
  CHECK(f.next.sizes.size() == 1);
}

TEST_CASE("batch processor: the timeout flushes what is pending") {
  Fixture f;
  auto p = f.make(batch_settings(1000, 0, 100ms));
  const auto t0 = Clock::now();
  REQUIRE(p->consume(make_logs(10, 0)).is_ok());
  REQUIRE(p->consume(make_logs(5, 10)).is_ok());
  REQUIRE(f.next.wait([&] { return !f.next.sizes.empty(); }));
  CHECK(f.next.times[0] - t0 >= 100ms);
  CHECK(f.next.times[0] - t0 < 1s);
  CHECK(f.next.sizes == std::vector<std::size_t>{15});
  CHECK(p->pending_items() == 0);

  // A second round is timed from its own first item.
  const auto t1 = Clock::now();
  REQUIRE(p->consume(make_logs(1, 15)).is_ok());
  REQUIRE(f.next.wait([&] { return f.next.sizes.size() == 2; }));
  CHECK(f.next.times[1] - t1 >= 100ms);
  p->shutdown(Clock::now() + 1s);
  CHECK(f.next.ids == iota_ids(16));
}

TEST_CASE("batch processor: send_batch_max_size splits, nothing exceeds it, order kept") {
  Fixture f;
  auto p = f.make(batch_settings(100, 150, 10s));
  std::uint64_t next_id = 0;
  for (std::size_t n : {70, 70, 70, 400, 30, 7}) {
    REQUIRE(p->consume(make_logs(n, next_id)).is_ok());
    next_id += n;
  }
  // Size-triggered outputs so far never exceed the maximum; the remainder waits.
  for (std::size_t s : f.next.sizes) CHECK(s <= 150);
  CHECK(p->pending_items() < 100);
  p->shutdown(Clock::now() + 1s);
  for (std::size_t s : f.next.sizes) {
    CHECK(s <= 150);
    CHECK(s > 0);
  }
  CHECK(std::accumulate(f.next.sizes.begin(), f.next.sizes.end(), std::size_t{0}) == next_id);
  CHECK(f.next.ids == iota_ids(next_id));
  CHECK(f.next.intact);
}

TEST_CASE("batch processor: repeated splitting keeps memory bounded") {
  Fixture f;
  auto p = f.make(batch_settings(100, 100, 10s));
  // 99-item inputs against a 100-item maximum: the remainder is empty only every 100 inputs.
  for (std::uint64_t i = 0; i < 500; ++i) REQUIRE(p->consume(make_logs(99, i * 99)).is_ok());
  p->shutdown(Clock::now() + 1s);
  CHECK(f.next.ids == iota_ids(500 * 99));
  CHECK(f.next.intact);
  // Each output holds the arenas of the two or three inputs it came from, not of every input
  // ever seen (each input's arena is one 64 KiB chunk).
  REQUIRE(f.next.memory.size() > 300);
  CHECK(f.next.memory.back() < 1024 * 1024);
  CHECK(*std::max_element(f.next.memory.begin(), f.next.memory.end()) < 1024 * 1024);
}

TEST_CASE("batch processor: shutdown flushes everything pending") {
  Fixture f;
  auto p = f.make(batch_settings(1000, 0, 10s));
  REQUIRE(p->consume(make_logs(10, 0)).is_ok());
  REQUIRE(p->consume(make_logs(20, 10)).is_ok());
  CHECK(f.next.sizes.empty());
  p->shutdown(Clock::now() + 1s);
  CHECK(f.next.sizes == std::vector<std::size_t>{30});
  CHECK(f.next.ids == iota_ids(30));
  p->shutdown(Clock::now() + 1s);  // idempotent
  CHECK(f.next.sizes.size() == 1);
}

TEST_CASE("batch processor: shutdown without start flushes too") {
  FakeHost host;
  RecordingConsumer next;
  BatchProcessor p("batch", Signal::kLogs, "logs", next, batch_settings(1000, 0, 10s), host.telemetry());
  REQUIRE(p.consume(make_logs(3)).is_ok());
  p.shutdown(Clock::now() + 1s);
  CHECK(next.sizes == std::vector<std::size_t>{3});
}

TEST_CASE("batch processor: a refusal downstream is a counted drop") {
  Fixture f;
  auto p = f.make(batch_settings(10, 0, 10s));
  SUBCASE("retryable") {
    f.next.answer = Status::retryable("queue full");
    CHECK(p->consume(make_logs(10)).is_ok());  // the processor had already taken the data
    CHECK(f.metrics.dropped("refused_downstream").Value() == 10);
  }
  SUBCASE("permanent") {
    f.next.answer = Status::permanent("bad data");
    CHECK(p->consume(make_logs(12)).is_ok());
    CHECK(f.metrics.dropped("permanent").Value() == 12);
  }
  p->shutdown(Clock::now() + 1s);
}

TEST_CASE("batch processor: after shutdown, consume returns the next consumer's answer") {
  Fixture f;
  auto p = f.make(batch_settings(1000, 0, 10s));
  p->shutdown(Clock::now() + 1s);
  f.next.answer = Status::retryable("queue full");
  Status s = p->consume(make_logs(4, 0));
  CHECK(s.is_retryable());
  CHECK(s.message() == "queue full");
  // Not the processor's drop: the caller got the refusal and counts it.
  CHECK(f.metrics.dropped("refused_downstream").Value() == 0);
  f.next.answer = Status::permanent("bad data");
  CHECK(p->consume(make_logs(2, 4)).is_permanent());
  CHECK(f.metrics.dropped("permanent").Value() == 0);
  f.next.answer = Status::ok();
  CHECK(p->consume(make_logs(1, 6)).is_ok());
  CHECK(f.next.ids == iota_ids(7));
}

TEST_CASE("batch processor: thread creation failure in start is a permanent error, not an exception") {
  FakeHost host;
  RecordingConsumer next;
  BatchProcessor p("batch", Signal::kLogs, "logs", next, batch_settings(1000, 0, 10s), host.telemetry());
  Status s;
  {
    FailThreadCreation fail;
    s = p.start(host);
    CHECK(fail.failed() == 1);
  }
  CHECK(s.is_permanent());
  CHECK(s.message().rfind("cannot start thread: ", 0) == 0);
  // Still usable without its timer: shutdown flushes what it holds.
  REQUIRE(p.consume(make_logs(3)).is_ok());
  p.shutdown(Clock::now() + 1s);
  CHECK(next.ids == iota_ids(3));
}

// The graph's stop sequence against a real exporter helper whose queue is full and whose backend
// is dead: begin_drain() on the exporter, then the processor's shutdown flush.
struct DrainFixture {
  FakeHost host;
  std::shared_ptr<FakeSender::State> state = std::make_shared<FakeSender::State>();
  telemetry::ProcessorMetrics metrics = host.telemetry().processor("batch", Signal::kLogs, "logs");

  std::unique_ptr<runtime::ExporterHelper> exporter(bool block_on_overflow, bool retry_forever) {
    runtime::QueueSettings q;
    q.queue_size = 1;
    q.num_consumers = 1;
    q.block_on_overflow = block_on_overflow;
    runtime::RetrySettings r;
    r.initial_interval = 10ms;
    r.max_interval = 50ms;
    r.max_elapsed_time = retry_forever ? 0s : 10s;
    return std::make_unique<runtime::ExporterHelper>("otlp", Signal::kLogs, std::make_unique<FakeSender>(state), q,
                                                     r, host.telemetry());
  }
};

TEST_CASE("batch processor: at shutdown, what it holds goes into a full exporter queue after begin_drain") {
  DrainFixture f;
  auto ex = f.exporter(/*block_on_overflow=*/false, /*retry_forever=*/true);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->always_fail = true;
  REQUIRE(ex->consume(make_logs(10, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->calls >= 2; }));  // retrying batch 0
  REQUIRE(ex->consume(make_logs(10, 10)).is_ok());                    // the queue is full
  BatchProcessor p("batch", Signal::kLogs, "logs", *ex, batch_settings(1000, 0, 10s), f.host.telemetry());
  REQUIRE(p.start(f.host).is_ok());
  REQUIRE(p.consume(make_logs(30, 20)).is_ok());
  REQUIRE(p.consume(make_logs(5, 50)).is_ok());

  ex->begin_drain();
  p.shutdown(Clock::now() + 1s);
  CHECK(f.metrics.dropped("refused_downstream").Value() == 0);
  CHECK(ex->queue_size() == 2);

  // Reload: everything is handed over, in order, the processor's items included.
  std::deque<Batch> pending = ex->take_pending(Clock::now() + 50ms);
  std::vector<std::uint64_t> ids;
  for (const Batch& b : pending)
    for (auto id : record_ids(b)) ids.push_back(id);
  CHECK(ids == iota_ids(55));
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("batch processor: a shutdown flush blocked by block_on_overflow is released by begin_drain") {
  DrainFixture f;
  auto ex = f.exporter(/*block_on_overflow=*/true, /*retry_forever=*/false);
  REQUIRE(ex->start(f.host).is_ok());
  {
    std::lock_guard l(f.state->mu);
    f.state->blocked = true;  // a dead backend
  }
  REQUIRE(ex->consume(make_logs(1, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(ex->consume(make_logs(1, 1)).is_ok());  // the queue is full
  BatchProcessor p("batch", Signal::kLogs, "logs", *ex, batch_settings(1000, 0, 10s), f.host.telemetry());
  REQUIRE(p.start(f.host).is_ok());
  REQUIRE(p.consume(make_logs(8, 2)).is_ok());

  auto stopper = std::async(std::launch::async, [&] { p.shutdown(Clock::now() + 1s); });
  CHECK(stopper.wait_for(100ms) == std::future_status::timeout);  // waiting for room
  ex->begin_drain();
  const bool released = stopper.wait_for(2s) == std::future_status::ready;
  if (!released) {  // release it rather than hang the test
    {
      std::lock_guard l(f.state->mu);
      f.state->blocked = false;
      f.state->cv.notify_all();
    }
    ex->shutdown(Clock::now() + 1s);
  }
  REQUIRE(released);
  CHECK(ex->queue_size() == 2);
  CHECK(f.metrics.dropped("refused_downstream").Value() == 0);

  // Shutdown: sent within the deadline once the backend answers.
  {
    std::lock_guard l(f.state->mu);
    f.state->blocked = false;
    f.state->cv.notify_all();
  }
  ex->shutdown(Clock::now() + 5s);
  CHECK(f.state->ids == iota_ids(10));
}

TEST_CASE("batch processor: concurrent producers lose nothing") {
  Fixture f;
  auto p = f.make(batch_settings(64, 100, 5ms));
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto first = static_cast<std::uint64_t>(t) * 100000 + static_cast<std::uint64_t>(i) * 7;
        CHECK(p->consume(make_logs(7, first)).is_ok());
      }
    });
  }
  for (auto& th : producers) th.join();
  p->shutdown(Clock::now() + 1s);
  std::lock_guard l(f.next.mu);
  CHECK(f.next.ids.size() == 4 * 200 * 7);
  for (std::size_t s : f.next.sizes) CHECK(s <= 100);
  auto ids = f.next.ids;
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());  // no duplicates
}

TEST_CASE("batch processor factory: schema defaults and validation") {
  auto factory = processors::batch_processor_factory();
  CHECK(factory.type == "batch");
  CHECK(factory.kind == component::Kind::kProcessor);

  SUBCASE("defaults") {
    config::Value empty = config_map({});
    config::Settings s(&factory.schema, &empty, {"test.yaml", 1, 1});
    auto bs = processors::read_batch_settings(s);
    CHECK(bs.send_batch_size == 8192);
    CHECK(bs.send_batch_max_size == 0);
    CHECK(bs.timeout == 200ms);
    config::Errors errors;
    factory.validate(s, "batch", errors);
    CHECK(errors.empty());
  }
  SUBCASE("max below size is an error") {
    config::Value node = config_map({{"send_batch_size", "1000"}, {"send_batch_max_size", "500"}});
    config::Errors errors;
    config::validate(factory.schema, &node, node.location, "batch", errors);
    REQUIRE(errors.empty());
    config::Settings s(&factory.schema, &node, node.location);
    factory.validate(s, "batch", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("send_batch_max_size") != std::string::npos);
    CHECK(errors[0].location.line == 3);
  }
  SUBCASE("unknown option (metadata_keys is not supported)") {
    config::Value node = config_map({{"metadata_keys", "tenant"}});
    config::Errors errors;
    config::validate(factory.schema, &node, node.location, "batch", errors);
    CHECK(errors.size() == 1);
  }
}

}  // namespace
}  // namespace vigil::testing
