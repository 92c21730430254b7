#pragma once
// Fakes shared by the runtime tests: a Host with a running io_context, a scriptable Sender, a
// recording Consumer, log batches whose records carry a sequence number (time_unix_nano), and
// thread creation failures on demand (FailThreadCreation).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <pthread.h>

#include <cerrno>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "agent/component/component.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::testing::runtime_fakes {

using namespace std::chrono_literals;
using component::Clock;
using component::Status;
using model::Batch;
using model::Signal;

constexpr std::string_view kTestBody = "GET /api/orders 200 12ms";

// Log records first .. first+count-1 (the number is in time_unix_nano).
inline Batch make_logs(std::size_t count, std::uint64_t first = 0) {
  Batch b(Signal::kLogs);
  auto& rl = b.resource_logs().emplace_back(b.arena());
  auto& sl = rl.scope_logs.emplace_back(b.arena());
  sl.scope.name = b.arena().copy("test");
  sl.log_records.reserve(b.arena(), count);
  std::string_view body = b.arena().copy(kTestBody);
  for (std::size_t i = 0; i < count; ++i) {
    auto& r = sl.log_records.emplace_back(b.arena());
    r.time_unix_nano = first + i;
    r.severity_number = 9;
    r.body = model::AnyValue::string(body);
  }
  return b;
}

// True when every record's body still reads kTestBody (its memory is alive and intact).
inline bool bodies_intact(const Batch& b) {
  for (const auto& rl : b.resource_logs())
    for (const auto& sl : rl.scope_logs)
      for (const auto& r : sl.log_records)
        if (r.body.string_value() != kTestBody) return false;
  return true;
}

inline std::vector<std::uint64_t> record_ids(const Batch& b) {
  std::vector<std::uint64_t> ids;
  for (const auto& rl : b.resource_logs())
    for (const auto& sl : rl.scope_logs)
      for (const auto& r : sl.log_records) ids.push_back(r.time_unix_nano);
  return ids;
}

class FakeHost : public component::Host {
 public:
  FakeHost() : guard_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~FakeHost() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }

 private:
  boost::asio::io_context io_;
  telemetry::Telemetry telemetry_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// A Sender told what to answer. Thread-safe.
class FakeSender : public component::Sender {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int fail_retryable = 0;   // next N calls fail retryable
    int fail_permanent = 0;   // next N calls fail permanently
    bool always_fail = false;
    std::chrono::milliseconds retry_after{0};
    bool blocked = false;     // send() waits until unblocked
    int calls = 0;
    int in_send = 0;
    std::vector<Clock::time_point> attempts;
    std::vector<std::uint64_t> ids;  // records sent, in send order
    std::size_t items = 0;
    bool started = false;
    bool shut_down = false;
  };

  explicit FakeSender(std::shared_ptr<State> state) : state_(std::move(state)) {}

  Status start(component::Host&) override {
    std::lock_guard l(state_->mu);
    state_->started = true;
    return Status::ok();
  }
  void shutdown(component::Deadline) override {
    std::lock_guard l(state_->mu);
    state_->shut_down = true;
  }
  Status send(const Batch& b) override {
    std::unique_lock l(state_->mu);
    ++state_->calls;
    ++state_->in_send;
    state_->attempts.push_back(Clock::now());
    state_->cv.notify_all();
    state_->cv.wait(l, [&] { return !state_->blocked; });
    --state_->in_send;
    if (state_->fail_permanent > 0) {
      --state_->fail_permanent;
      return Status::permanent("bad request");
    }
    if (state_->always_fail || state_->fail_retryable > 0) {
      if (state_->fail_retryable > 0) --state_->fail_retryable;
      return Status::retryable("unavailable", state_->retry_after);
    }
    for (auto id : record_ids(b)) state_->ids.push_back(id);
    state_->items += b.item_count();
    state_->cv.notify_all();
    return Status::ok();
  }

 private:
  std::shared_ptr<State> state_;
};

// Waits until pred() holds under the state's lock, at most `timeout`.
template <class Pred>
bool wait_for(FakeSender::State& s, Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  std::unique_lock l(s.mu);
  return s.cv.wait_for(l, timeout, [&] { return pred(); });
}

// A next consumer that records what it gets and answers a scripted status.
class RecordingConsumer : public component::Consumer {
 public:
  Status consume(Batch&& b) override {
    std::lock_guard l(mu);
    sizes.push_back(b.item_count());
    if (!bodies_intact(b)) intact = false;
    memory.push_back(b.memory_bytes());
    for (auto id : record_ids(b)) ids.push_back(id);
    times.push_back(Clock::now());
    cv.notify_all();
    return answer;
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock l(mu);
    return cv.wait_for(l, timeout, [&] { return pred(); });
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::size_t> sizes;
  std::vector<std::uint64_t> ids;
  std::vector<Clock::time_point> times;
  std::vector<std::size_t> memory;  // Batch::memory_bytes() of each batch received
  bool intact = true;
  Status answer;
};

// Polls fn() until it holds, at most `timeout`.
template <class Fn>
bool eventually(Fn fn, std::chrono::milliseconds timeout = 5000ms) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return fn();
}

inline std::vector<std::uint64_t> iota_ids(std::uint64_t n, std::uint64_t first = 0) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

// Thread creation failure on demand, as at a container's pid limit (pids.max), where
// std::thread throws std::system_error (EAGAIN). The tests run as root, which RLIMIT_NPROC does
// not limit, so a test executable that needs this routes pthread_create through
// failing_pthread_create by defining, in exactly one of its files:
//   extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* arg) noexcept {
//     return vigil::testing::failing_pthread_create(t, a, f, arg);
//   }
// (the executable's definition takes precedence over libc's, and over TSan's interceptor,
// which the real call below still goes through).
inline std::atomic<int> thread_creations_allowed{-1};  // -1: no failures injected
inline std::atomic<int> thread_creations_failed{0};

inline int failing_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                                  void* arg) noexcept {
  using Real = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "pthread_create"));
  int allowed = thread_creations_allowed.load();
  while (allowed >= 0) {
    if (allowed == 0) {
      ++thread_creations_failed;
      return EAGAIN;
    }
    if (thread_creations_allowed.compare_exchange_weak(allowed, allowed - 1)) break;
  }
  return real(thread, attr, start, arg);
}

// While alive: the next `allowed` thread creations succeed, every later one fails.
class FailThreadCreation {
 public:
  explicit FailThreadCreation(int allowed = 0) {
    thread_creations_failed = 0;
    thread_creations_allowed = allowed;
  }
  ~FailThreadCreation() { thread_creations_allowed = -1; }
  FailThreadCreation(const FailThreadCreation&) = delete;
  FailThreadCreation& operator=(const FailThreadCreation&) = delete;
  int failed() const { return thread_creations_failed.load(); }
};

}  // namespace vigil::testing::runtime_fakes

// Each support header keeps its fakes in a namespace of its own (one test executable links
// several), and makes them visible to the tests that include it.
namespace vigil::testing {
using namespace runtime_fakes;
}  // namespace vigil::testing
