#include "agent/processors/memory_limiter/memory_limiter.hpp"

#include <doctest/doctest.h>

#include <atomic>

#include "tests/support/config_test_support.hpp"
#include "tests/support/runtime_test_support.hpp"

namespace vigil::testing {
namespace {

using processors::MemoryLimiter;
using processors::MemoryLimits;

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct Fixture {
  FakeHost host;
  RecordingConsumer next;
  std::atomic<std::size_t> memory{50 * kMiB};
  telemetry::ProcessorMetrics metrics = host.telemetry().processor("memory_limiter", Signal::kLogs, "logs");

  std::unique_ptr<MemoryLimiter> make(std::chrono::nanoseconds interval = 1h) {
    MemoryLimits limits;
    limits.limit_bytes = 100 * kMiB;
    limits.spike_bytes = 20 * kMiB;
    limits.check_interval = interval;
    return std::make_unique<MemoryLimiter>("memory_limiter", Signal::kLogs, "logs", next, limits, host.telemetry(),
                                           [this] { return memory.load(); });
  }
};

TEST_CASE("memory limiter: refuses above the soft limit, accepts again below it") {
  Fixture f;
  auto p = f.make();
  CHECK(p->limits().soft_limit_bytes() == 80 * kMiB);
  CHECK_FALSE(p->mutates_data());
  REQUIRE(p->start(f.host).is_ok());
  CHECK(p->consume(make_logs(5)).is_ok());
  CHECK(f.next.ids.size() == 5);

  f.memory = 85 * kMiB;
  p->check();
  CHECK(p->refusing());
  Status s = p->consume(make_logs(7));
  CHECK(s.is_retryable());
  CHECK(s.message().find("soft limit") != std::string::npos);
  CHECK(f.metrics.refused("memory_limit").Value() == 7);
  CHECK(f.next.ids.size() == 5);  // not passed on

  f.memory = 120 * kMiB;  // above the hard limit: refused too
  p->check();
  CHECK(p->consume(make_logs(1)).is_retryable());
  CHECK(f.metrics.refused("memory_limit").Value() == 8);

  f.memory = 79 * kMiB;
  p->check();
  CHECK_FALSE(p->refusing());
  CHECK(p->consume(make_logs(2)).is_ok());
  CHECK(f.next.ids.size() == 7);
  p->shutdown(Clock::now() + 1s);
}

TEST_CASE("memory limiter: start measures at once, the timer keeps measuring") {
  Fixture f;
  f.memory = 90 * kMiB;
  auto p = f.make(10ms);
  REQUIRE(p->start(f.host).is_ok());
  CHECK(p->refusing());  // measured in start()
  f.memory = 10 * kMiB;
  CHECK(eventually([&] { return !p->refusing(); }));
  f.memory = 95 * kMiB;
  CHECK(eventually([&] { return p->refusing(); }));
  p->shutdown(Clock::now() + 1s);
  p->shutdown(Clock::now() + 1s);  // idempotent
}

TEST_CASE("memory limiter: shutdown without start is safe") {
  Fixture f;
  auto p = f.make();
  p->shutdown(Clock::now() + 1s);
}

struct Validated {
  config::Errors errors;
  processors::MemoryLimits limits;
};

Validated validate(const std::vector<std::pair<std::string, std::string>>& kv, std::size_t total = 1000 * kMiB) {
  auto factory = processors::memory_limiter_processor_factory();
  config::Value node = config_map(kv);
  Validated out;
  config::validate(factory.schema, &node, node.location, "memory_limiter", out.errors);
  config::Settings s(&factory.schema, &node, node.location);
  factory.validate(s, "memory_limiter", out.errors);
  if (out.errors.empty()) {
    std::string error;
    REQUIRE(processors::compute_memory_limits(s, total, out.limits, error));
  }
  return out;
}

TEST_CASE("memory limiter config") {
  SUBCASE("limit_mib with the default spike (20%) and check_interval (1s)") {
    auto v = validate({{"limit_mib", "500"}});
    REQUIRE(v.errors.empty());
    CHECK(v.limits.limit_bytes == 500 * kMiB);
    CHECK(v.limits.spike_bytes == 100 * kMiB);
    CHECK(v.limits.check_interval == 1s);
  }
  SUBCASE("explicit spike") {
    auto v = validate({{"limit_mib", "500"}, {"spike_limit_mib", "50"}, {"check_interval", "250ms"}});
    REQUIRE(v.errors.empty());
    CHECK(v.limits.soft_limit_bytes() == 450 * kMiB);
    CHECK(v.limits.check_interval == 250ms);
  }
  SUBCASE("percentages of the total memory") {
    auto v = validate({{"limit_percentage", "50"}, {"spike_limit_percentage", "10"}}, 1000 * kMiB);
    REQUIRE(v.errors.empty());
    CHECK(v.limits.limit_bytes == 500 * kMiB);
    CHECK(v.limits.spike_bytes == 100 * kMiB);
  }
  SUBCASE("both limits set") {
    auto v = validate({{"limit_mib", "500"}, {"limit_percentage", "50"}});
    REQUIRE(v.errors.size() == 1);
    CHECK(v.errors[0].message.find("only one") != std::string::npos);
  }
  SUBCASE("no limit set") {
    auto v = validate({});
    REQUIRE(v.errors.size() == 1);
    CHECK(v.errors[0].message.find("must be set") != std::string::npos);
  }
  SUBCASE("spike not below the limit") {
    auto v = validate({{"limit_mib", "100"}, {"spike_limit_mib", "100"}});
    REQUIRE(v.errors.size() == 1);
    CHECK(v.errors[0].message.find("spike_limit_mib") != std::string::npos);
    auto w = validate({{"limit_percentage", "30"}, {"spike_limit_percentage", "40"}});
    REQUIRE(w.errors.size() == 1);
  }
  SUBCASE("zero check_interval") {
    auto v = validate({{"limit_mib", "100"}, {"check_interval", "0s"}});
    REQUIRE(v.errors.size() == 1);
    CHECK(v.errors[0].message.find("check_interval") != std::string::npos);
  }
  SUBCASE("percentage above 100 is rejected by the schema") {
    auto v = validate({{"limit_percentage", "150"}});
    CHECK_FALSE(v.errors.empty());
  }
}

TEST_CASE("total memory is known on Linux") {
  CHECK(processors::total_memory_bytes() > 64 * kMiB);
}

}  // namespace
}  // namespace vigil::testing
