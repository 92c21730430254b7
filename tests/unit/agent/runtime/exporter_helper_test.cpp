#include "agent/runtime/exporter_helper.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>

#include "tests/support/runtime_test_support.hpp"

// Lets FailThreadCreation make std::thread throw in this executable (see runtime_test_support.hpp).
extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) noexcept {
  return vigil::testing::failing_pthread_create(t, a, f, arg);
}

namespace vigil::testing {
namespace {

using runtime::Backoff;
using runtime::ExporterHelper;
using runtime::QueueSettings;
using runtime::RetrySettings;

RetrySettings fast_retry(std::chrono::milliseconds initial = 10ms) {
  RetrySettings r;
  r.initial_interval = initial;
  r.max_interval = 1s;
  r.max_elapsed_time = 10s;
  r.multiplier = 1.5;
  r.randomization_factor = 0.5;
  return r;
}

QueueSettings queue(int size, int consumers, bool block = false) {
  QueueSettings q;
  q.queue_size = size;
  q.num_consumers = consumers;
  q.block_on_overflow = block;
  return q;
}

struct Fixture {
  FakeHost host;
  std::shared_ptr<FakeSender::State> state = std::make_shared<FakeSender::State>();
  telemetry::ExporterMetrics metrics = host.telemetry().exporter("otlp/test", Signal::kLogs);

  std::unique_ptr<ExporterHelper> make(QueueSettings q, RetrySettings r, std::string id = "otlp/test") {
    return std::make_unique<ExporterHelper>(std::move(id), Signal::kLogs, std::make_unique<FakeSender>(state), q, r,
                                            host.telemetry());
  }
  double failed(std::string_view reason) { return metrics.send_failed(reason).Value(); }
  double refused(std::string_view reason) { return metrics.enqueue_failed(reason).Value(); }
  void block(bool b) {
    std::lock_guard l(state->mu);
    state->blocked = b;
    state->cv.notify_all();
  }
};

TEST_CASE("exporter queue: full queue refuses with a retryable error and counts the items") {
  Fixture f;
  auto ex = f.make(queue(2, 1), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  CHECK(f.metrics.queue_capacity->Value() == 2);
  f.block(true);
  REQUIRE(ex->consume(make_logs(10, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));  // the consumer holds batch 0
  CHECK(ex->consume(make_logs(10, 10)).is_ok());
  CHECK(ex->consume(make_logs(10, 20)).is_ok());
  CHECK(ex->queue_size() == 2);
  CHECK(f.metrics.queue_size->Value() == 2);

  Status s = ex->consume(make_logs(5, 30));
  CHECK(s.is_retryable());
  CHECK(s.message() == "sending queue is full");
  CHECK(f.refused("queue_full") == 5);

  f.block(false);
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 30; }));
  CHECK(f.state->ids == iota_ids(30));
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.metrics.sent->Value() == 30);
  CHECK(f.failed("shutdown") == 0);
  CHECK(f.state->shut_down);
}

TEST_CASE("exporter queue: block_on_overflow waits for room instead of refusing") {
  Fixture f;
  auto ex = f.make(queue(1, 1, /*block=*/true), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  f.block(true);
  REQUIRE(ex->consume(make_logs(1, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(ex->consume(make_logs(1, 1)).is_ok());  // fills the queue

  std::atomic<bool> returned{false};
  auto producer = std::async(std::launch::async, [&] {
    Status s = ex->consume(make_logs(1, 2));
    returned = true;
    return s;
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(returned.load());  // still waiting for room
  f.block(false);
  CHECK(producer.get().is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 3; }));
  CHECK(f.state->ids == iota_ids(3));
  CHECK(f.refused("queue_full") == 0);
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("exporter queue: a producer blocked on overflow is refused when shutdown starts") {
  Fixture f;
  auto ex = f.make(queue(1, 1, /*block=*/true), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  f.block(true);
  REQUIRE(ex->consume(make_logs(1, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(ex->consume(make_logs(1, 1)).is_ok());
  auto producer = std::async(std::launch::async, [&] { return ex->consume(make_logs(4, 2)); });
  std::this_thread::sleep_for(50ms);
  auto stopper = std::async(std::launch::async, [&] { ex->shutdown(Clock::now() + 2s); });
  Status s = producer.get();
  CHECK(s.is_retryable());
  CHECK(f.refused("shutting_down") == 4);
  f.block(false);
  stopper.get();
  CHECK(f.state->items == 2);  // what was accepted is still drained
}

TEST_CASE("exporter queue: refuses before start and after shutdown") {
  Fixture f;
  auto ex = f.make(queue(10, 1), fast_retry());
  CHECK(ex->consume(make_logs(3)).is_retryable());
  CHECK(f.refused("shutting_down") == 3);
  REQUIRE(ex->start(f.host).is_ok());
  ex->shutdown(Clock::now() + 1s);
  CHECK(ex->consume(make_logs(2)).is_retryable());
  CHECK(f.refused("shutting_down") == 5);
}

TEST_CASE("exporter: shutdown without start is safe and idempotent") {
  Fixture f;
  auto ex = f.make(queue(10, 2), fast_retry());
  ex->shutdown(Clock::now() + 1s);
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.state->shut_down);
  CHECK_FALSE(f.state->started);
}

TEST_CASE("exporter retry: retryable failures are retried with growing backoff") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  auto ex = f.make(queue(10, 1), r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_retryable = 3;
  REQUIRE(ex->consume(make_logs(4)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 4; }));
  CHECK(f.state->calls == 4);
  // Each wait is at least interval * (1 - randomization_factor): 5 ms, 7.5 ms, 11.25 ms.
  const auto& t = f.state->attempts;
  CHECK(t[1] - t[0] >= 5ms);
  CHECK(t[2] - t[1] >= 7500us);
  CHECK(t[3] - t[2] >= 11250us);
  CHECK(t[3] - t[0] >= 23750us);
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.metrics.sent->Value() == 4);
  CHECK(f.failed("retries_exhausted") == 0);
}

TEST_CASE("exporter retry: a Retry-After hint longer than the backoff is honoured") {
  Fixture f;
  auto ex = f.make(queue(10, 1), fast_retry(1ms));
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_retryable = 1;
  f.state->retry_after = 200ms;
  REQUIRE(ex->consume(make_logs(1)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 1; }));
  REQUIRE(f.state->attempts.size() == 2);
  CHECK(f.state->attempts[1] - f.state->attempts[0] >= 200ms);
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("exporter retry: gives up after max_elapsed_time and counts retries_exhausted") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  r.max_interval = 20ms;
  r.max_elapsed_time = 100ms;
  auto ex = f.make(queue(10, 1), r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->always_fail = true;
  REQUIRE(ex->consume(make_logs(7)).is_ok());
  REQUIRE(eventually([&] { return f.failed("retries_exhausted") == 7; }));
  std::lock_guard l(f.state->mu);
  CHECK(f.state->calls >= 3);
  // The last retry is scheduled within max_elapsed_time; the margin is the thread's wake-up
  // latency on a loaded machine (it failed by 2.5 ms in one of ~30 runs without it).
  CHECK(f.state->attempts.back() - f.state->attempts.front() <= 100ms + 25ms);
  CHECK(f.metrics.sent->Value() == 0);
}

TEST_CASE("exporter retry: a permanent error drops the batch without retrying") {
  Fixture f;
  auto ex = f.make(queue(10, 1), fast_retry(1ms));
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_permanent = 1;
  REQUIRE(ex->consume(make_logs(3)).is_ok());
  REQUIRE(eventually([&] { return f.failed("permanent") == 3; }));
  std::this_thread::sleep_for(50ms);
  CHECK(f.state->calls == 1);
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("permanent") == 3);
}

TEST_CASE("exporter retry: disabled retries drop a retryable failure") {
  Fixture f;
  RetrySettings r = fast_retry(1ms);
  r.enabled = false;
  auto ex = f.make(queue(10, 1), r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_retryable = 1;
  REQUIRE(ex->consume(make_logs(6)).is_ok());
  REQUIRE(eventually([&] { return f.failed("retry_disabled") == 6; }));
  std::this_thread::sleep_for(30ms);
  CHECK(f.state->calls == 1);
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("exporter without queue: sends synchronously and returns the outcome") {
  Fixture f;
  QueueSettings q;
  q.enabled = false;
  RetrySettings r = fast_retry(5ms);
  r.max_elapsed_time = 50ms;
  auto ex = f.make(q, r);
  CHECK(f.metrics.queue_capacity->Value() == 0);
  CHECK(ex->consume(make_logs(2)).is_retryable());  // not started
  REQUIRE(ex->start(f.host).is_ok());

  SUBCASE("success after retries, in the caller's thread") {
    f.state->fail_retryable = 2;
    CHECK(ex->consume(make_logs(5)).is_ok());
    CHECK(f.state->items == 5);  // already sent when consume returns
    CHECK(f.state->calls == 3);
  }
  // A failure returned to the caller is the caller's to count (its refusal or drop); counting it
  // in send_failed too would count one loss twice, or a loss where the client retried.
  SUBCASE("permanent error is returned, not counted here") {
    f.state->fail_permanent = 1;
    Status s = ex->consume(make_logs(5));
    CHECK(s.is_permanent());
    CHECK(s.message() == "bad request");
    CHECK(f.failed("permanent") == 0);
  }
  SUBCASE("retries exhausted: retryable is returned, not counted here") {
    f.state->always_fail = true;
    const auto t0 = Clock::now();
    Status s = ex->consume(make_logs(5));
    CHECK(s.is_retryable());
    CHECK(Clock::now() - t0 <= 1s);
    CHECK(f.failed("retries_exhausted") == 0);
  }
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("exporter without queue: retries disabled, a failure is returned and not counted here") {
  Fixture f;
  QueueSettings q;
  q.enabled = false;
  RetrySettings r = fast_retry(5ms);
  r.enabled = false;
  auto ex = f.make(q, r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_retryable = 1;
  CHECK(ex->consume(make_logs(4)).is_retryable());
  CHECK(f.failed("retry_disabled") == 0);
  CHECK(f.state->calls == 1);
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("shutdown") == 0);
}

TEST_CASE("exporter without queue: adopted batches are the helper's, so their drops are counted") {
  Fixture f;
  QueueSettings q;
  q.enabled = false;
  RetrySettings r = fast_retry(1ms);
  auto ex = f.make(q, r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->fail_permanent = 1;
  std::deque<Batch> pending;
  pending.push_back(make_logs(3, 0));
  ex->adopt_pending(std::move(pending));
  REQUIRE(eventually([&] { return f.failed("permanent") == 3; }));
  ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("exporter drain: begin_drain releases a producer blocked by block_on_overflow") {
  Fixture f;
  auto ex = f.make(queue(1, 1, /*block=*/true), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  f.block(true);  // a dead backend: nothing leaves the queue
  REQUIRE(ex->consume(make_logs(1, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(ex->consume(make_logs(1, 1)).is_ok());  // fills the queue
  auto producer = std::async(std::launch::async, [&] { return ex->consume(make_logs(2, 2)); });
  CHECK(producer.wait_for(100ms) == std::future_status::timeout);  // waiting for room

  ex->begin_drain();
  const bool released = producer.wait_for(2s) == std::future_status::ready;
  if (!released) {  // let the producer go rather than hang the test
    f.block(false);
    ex->shutdown(Clock::now() + 1s);
  }
  REQUIRE(released);
  CHECK(producer.get().is_ok());
  CHECK(ex->queue_size() == 2);  // past queue_size 1: enqueued, not refused
  // Later arrivals (a processor's flush) neither wait nor are refused.
  const auto t0 = Clock::now();
  CHECK(ex->consume(make_logs(1, 4)).is_ok());
  CHECK(Clock::now() - t0 < 50ms);
  CHECK(ex->queue_size() == 3);
  CHECK(f.metrics.queue_size->Value() == 3);
  CHECK(f.refused("queue_full") == 0);
  CHECK(f.refused("shutting_down") == 0);

  // The consumers kept running: once the backend answers, everything goes out in order.
  f.block(false);
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 5; }));
  CHECK(f.state->ids == iota_ids(5));
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("shutdown") == 0);
}

TEST_CASE("exporter drain: a full queue takes everything after begin_drain, take_pending returns it in order") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  r.max_elapsed_time = 0s;
  auto ex = f.make(queue(2, 1), r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->always_fail = true;
  REQUIRE(ex->consume(make_logs(10, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->calls >= 2; }));  // batch 0 is being retried
  REQUIRE(ex->consume(make_logs(10, 10)).is_ok());
  REQUIRE(ex->consume(make_logs(10, 20)).is_ok());
  CHECK(ex->consume(make_logs(10, 1000)).is_retryable());  // full, before the drain
  CHECK(f.refused("queue_full") == 10);

  ex->begin_drain();
  ex->begin_drain();  // idempotent
  for (std::uint64_t i = 3; i < 8; ++i) CHECK(ex->consume(make_logs(10, i * 10)).is_ok());
  CHECK(ex->queue_size() == 7);
  CHECK(f.refused("queue_full") == 10);

  std::deque<Batch> pending = ex->take_pending(Clock::now() + 50ms);
  REQUIRE(pending.size() == 8);
  std::vector<std::uint64_t> ids;
  for (const Batch& b : pending)
    for (auto id : record_ids(b)) ids.push_back(id);
  CHECK(ids == iota_ids(80));
  CHECK(ex->consume(make_logs(1)).is_retryable());  // take_pending still stops intake
  ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("shutdown") == 0);
}

TEST_CASE("exporter drain: shutdown after begin_drain sends the over-capacity batches") {
  Fixture f;
  auto ex = f.make(queue(1, 1), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  f.block(true);
  REQUIRE(ex->consume(make_logs(1, 0)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(ex->consume(make_logs(1, 1)).is_ok());
  ex->begin_drain();
  for (std::uint64_t i = 2; i < 6; ++i) CHECK(ex->consume(make_logs(1, i)).is_ok());
  f.block(false);
  ex->shutdown(Clock::now() + 5s);
  CHECK(f.state->ids == iota_ids(6));
  CHECK(f.failed("shutdown") == 0);
  CHECK(f.metrics.queue_size->Value() == 0);
}

TEST_CASE("exporter: thread creation failure in start is a permanent error, not an exception") {
  Fixture f;
  auto ex = f.make(queue(10, 4), fast_retry());
  Status s;
  {
    FailThreadCreation fail(/*allowed=*/2);  // two consumers start, the third cannot
    s = ex->start(f.host);
    CHECK(fail.failed() == 1);
  }
  CHECK(s.is_permanent());
  CHECK(s.message().rfind("cannot start thread: ", 0) == 0);
  // Undone: the started consumers are joined, the sender is shut down, nothing is accepted.
  CHECK(f.state->shut_down);
  CHECK(ex->consume(make_logs(2)).is_retryable());
  const auto t0 = Clock::now();
  ex->shutdown(Clock::now() + 2s);  // nothing left to wait for (no phantom consumer)
  CHECK(Clock::now() - t0 < 500ms);
}

TEST_CASE("exporter: thread creation failure for adopted batches without a queue") {
  Fixture f;
  QueueSettings q;
  q.enabled = false;

  SUBCASE("in start: the adopted batches are dropped, counted") {
    auto ex = f.make(q, fast_retry());
    std::deque<Batch> pending;
    pending.push_back(make_logs(3, 0));
    ex->adopt_pending(std::move(pending));
    FailThreadCreation fail;
    Status s = ex->start(f.host);
    CHECK(s.is_permanent());
    CHECK(s.message().rfind("cannot start thread: ", 0) == 0);
    CHECK(f.failed("shutdown") == 3);
    CHECK(f.state->shut_down);
  }
  SUBCASE("in adopt_pending: the batches stay queued and can be handed over") {
    auto ex = f.make(q, fast_retry());
    REQUIRE(ex->start(f.host).is_ok());
    std::deque<Batch> pending;
    pending.push_back(make_logs(3, 0));
    pending.push_back(make_logs(2, 3));
    {
      FailThreadCreation fail;
      ex->adopt_pending(std::move(pending));
      CHECK(fail.failed() == 1);
    }
    CHECK(ex->queue_size() == 2);
    std::deque<Batch> again = ex->take_pending(Clock::now() + 1s);
    REQUIRE(again.size() == 2);
    CHECK(record_ids(again[0]) == iota_ids(3));
    ex->shutdown(Clock::now() + 1s);
    CHECK(f.failed("shutdown") == 0);
  }
}

TEST_CASE("exporter reload: the queue_size gauge follows the successor's queue") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  r.max_elapsed_time = 0s;
  auto old_ex = f.make(queue(100, 1), r);  // same ID and signal: the same gauge
  REQUIRE(old_ex->start(f.host).is_ok());
  f.state->always_fail = true;
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(old_ex->consume(make_logs(1, i)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->calls >= 2; }));
  auto new_ex = f.make(queue(100, 1), r);  // built while the old one runs
  CHECK(f.metrics.queue_size->Value() == 3);  // still the old queue's
  new_ex->adopt_pending(old_ex->take_pending(Clock::now() + 50ms));
  REQUIRE(new_ex->queue_size() == 4);
  CHECK(f.metrics.queue_size->Value() == 4);
  old_ex->shutdown(Clock::now() + 1s);
  CHECK(f.metrics.queue_size->Value() == 4);  // the old one's shutdown leaves it alone

  f.state->always_fail = false;
  REQUIRE(new_ex->start(f.host).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 4; }));
  REQUIRE(eventually([&] { return f.metrics.queue_size->Value() == 0; }));
  new_ex->shutdown(Clock::now() + 1s);
  CHECK(f.state->ids == iota_ids(4));
}

TEST_CASE("exporter schema: num_consumers and queue_size have upper bounds") {
  config::Option q = runtime::sending_queue_option();
  bool seen_consumers = false, seen_size = false;
  for (const config::Option& o : q.children) {
    if (o.name == "num_consumers") {
      seen_consumers = true;
      CHECK(o.max == 1000);
    }
    if (o.name == "queue_size") {
      seen_size = true;
      CHECK(o.max == 1'000'000);
    }
  }
  CHECK(seen_consumers);
  CHECK(seen_size);
}

TEST_CASE("exporter shutdown: drains the whole queue when the sender is healthy") {
  Fixture f;
  auto ex = f.make(queue(100, 2), fast_retry());
  REQUIRE(ex->start(f.host).is_ok());
  f.block(true);
  for (int i = 0; i < 20; ++i) REQUIRE(ex->consume(make_logs(5, static_cast<std::uint64_t>(i) * 5)).is_ok());
  auto unblock = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(50ms);
    f.block(false);
  });
  ex->shutdown(Clock::now() + 5s);
  unblock.get();
  CHECK(f.state->items == 100);
  CHECK(f.metrics.sent->Value() == 100);
  CHECK(f.failed("shutdown") == 0);
  CHECK(f.metrics.queue_size->Value() == 0);
  CHECK(f.state->shut_down);
}

TEST_CASE("exporter shutdown: with a failing sender the deadline is honoured and the rest counted") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  r.max_elapsed_time = 0s;  // retry until shutdown
  auto ex = f.make(queue(100, 1), r);
  REQUIRE(ex->start(f.host).is_ok());
  f.state->always_fail = true;
  for (int i = 0; i < 5; ++i) REQUIRE(ex->consume(make_logs(3)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->calls >= 2; }));
  const auto t0 = Clock::now();
  ex->shutdown(t0 + 200ms);
  const auto took = Clock::now() - t0;
  CHECK(took >= 190ms);
  CHECK(took < 1s);
  CHECK(f.failed("shutdown") == 15);  // the batch being retried and the 4 still queued
  CHECK(f.metrics.sent->Value() == 0);
  CHECK(f.metrics.queue_size->Value() == 0);
}

TEST_CASE("exporter reload: take_pending and adopt_pending keep every batch, in order") {
  Fixture f;
  RetrySettings r = fast_retry(10ms);
  r.max_elapsed_time = 0s;
  auto old_ex = f.make(queue(100, 3), r);
  REQUIRE(old_ex->start(f.host).is_ok());
  f.state->always_fail = true;
  for (int i = 0; i < 10; ++i) REQUIRE(old_ex->consume(make_logs(10, static_cast<std::uint64_t>(i) * 10)).is_ok());
  // All three consumers are retrying one batch each.
  REQUIRE(wait_for(*f.state, [&] { return f.state->calls >= 6; }));
  std::deque<Batch> pending = old_ex->take_pending(Clock::now() + 50ms);
  REQUIRE(pending.size() == 10);
  std::vector<std::uint64_t> ids;
  for (const Batch& b : pending)
    for (auto id : record_ids(b)) ids.push_back(id);
  CHECK(ids == iota_ids(100));
  CHECK(old_ex->consume(make_logs(1)).is_retryable());  // no longer accepting
  old_ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("shutdown") == 0);

  // The replacement: one batch arrives before the handover, is in flight; another is queued.
  {
    std::lock_guard l(f.state->mu);
    f.state->always_fail = false;
    f.state->blocked = true;
  }
  auto new_ex = f.make(queue(5, 1), r);  // smaller than what it adopts: still takes it all
  REQUIRE(new_ex->start(f.host).is_ok());
  REQUIRE(new_ex->consume(make_logs(1, 1000)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  REQUIRE(new_ex->consume(make_logs(1, 2000)).is_ok());
  new_ex->adopt_pending(std::move(pending));
  CHECK(new_ex->queue_size() == 11);
  f.block(false);
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 102; }));
  std::vector<std::uint64_t> want{1000};
  for (auto id : iota_ids(100)) want.push_back(id);
  want.push_back(2000);
  CHECK(f.state->ids == want);
  new_ex->shutdown(Clock::now() + 1s);
  CHECK(f.failed("shutdown") == 0);
}

TEST_CASE("exporter reload: a queue-disabled replacement still sends adopted batches") {
  Fixture f;
  auto old_ex = f.make(queue(10, 1), fast_retry());
  REQUIRE(old_ex->start(f.host).is_ok());
  f.block(true);
  for (int i = 0; i < 3; ++i) REQUIRE(old_ex->consume(make_logs(2, static_cast<std::uint64_t>(i) * 2)).is_ok());
  REQUIRE(wait_for(*f.state, [&] { return f.state->in_send == 1; }));
  auto unblock = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(20ms);
    f.block(false);
  });
  auto pending = old_ex->take_pending(Clock::now() + 1s);
  unblock.get();
  CHECK(pending.size() == 2);  // the first batch was sent by the old exporter
  QueueSettings q;
  q.enabled = false;
  auto new_ex = f.make(q, fast_retry());
  REQUIRE(new_ex->start(f.host).is_ok());
  new_ex->adopt_pending(std::move(pending));
  REQUIRE(wait_for(*f.state, [&] { return f.state->items == 6; }));
  CHECK(f.state->ids == iota_ids(6));
  new_ex->shutdown(Clock::now() + 1s);
  old_ex->shutdown(Clock::now() + 1s);
}

TEST_CASE("backoff: grows by the multiplier, capped at max_interval, resets") {
  RetrySettings r;
  r.initial_interval = 100ms;
  r.max_interval = 1s;
  r.multiplier = 2;
  r.randomization_factor = 0;
  Backoff b(r, 1);
  CHECK(b.next() == 100ms);
  CHECK(b.next() == 200ms);
  CHECK(b.next() == 400ms);
  CHECK(b.next() == 800ms);
  CHECK(b.next() == 1s);
  CHECK(b.next() == 1s);
  b.reset();
  CHECK(b.next() == 100ms);
}

TEST_CASE("backoff: jitter stays within +-randomization_factor and is deterministic per seed") {
  RetrySettings r;
  r.initial_interval = 100ms;
  r.max_interval = 1s;
  r.multiplier = 1.5;
  r.randomization_factor = 0.5;
  std::chrono::nanoseconds lo = 1h, hi = 0ns;
  for (std::uint64_t seed = 0; seed < 1000; ++seed) {
    Backoff b(r, seed);
    auto first = b.next();
    lo = std::min(lo, first);
    hi = std::max(hi, first);
    CHECK(first >= 50ms);
    CHECK(first <= 150ms);
    for (int i = 0; i < 10; ++i) {
      auto d = b.next();
      CHECK(d >= 50ms);
      CHECK(d <= 1500ms);  // the cap applies before jitter
    }
  }
  CHECK(lo < 60ms);  // the range is actually used
  CHECK(hi > 140ms);

  Backoff a(r, 42), b(r, 42), c(r, 43);
  bool differs = false;
  for (int i = 0; i < 8; ++i) {
    auto x = a.next();
    CHECK(x == b.next());
    if (x != c.next()) differs = true;
  }
  CHECK(differs);
}

}  // namespace
}  // namespace vigil::testing
