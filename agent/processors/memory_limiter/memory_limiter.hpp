#pragma once
// The memory limiter (the Collector's `memory_limiter`): refuses data with a retryable error while
// the agent's resident memory is above the soft limit (limit - spike), so receivers push back
// ("retry later") instead of the process growing without bound. Put it first in a pipeline.
//
// Memory is measured every `check_interval` on the host's io_context; consume() only reads an
// atomic flag. Go's collector forces a GC above the hard limit; C++ has nothing to collect, so
// above the hard limit Vigil refuses too, and logs a warning.
//
// Ownership: consume() passes accepted batches on to the next consumer.
// Thread-safety: consume() from any number of threads; start/shutdown from the control thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::processors {

struct MemoryLimits {
  std::size_t limit_bytes = 0;  // hard limit
  std::size_t spike_bytes = 0;  // soft limit = limit - spike
  std::chrono::nanoseconds check_interval = std::chrono::seconds(1);
  std::size_t soft_limit_bytes() const { return limit_bytes > spike_bytes ? limit_bytes - spike_bytes : 0; }
};

// Total memory the process may use: MemTotal from /proc/meminfo, lowered by the cgroup limit
// (v2 memory.max, or v1 memory.limit_in_bytes) when one is set. 0 when unknown.
std::size_t total_memory_bytes();

// Limits from a validated config. `total_memory` is used by the *_percentage options. Returns
// false (with `error`) when the limits cannot be computed (percentage with unknown total).
bool compute_memory_limits(const config::Settings& settings, std::size_t total_memory, MemoryLimits& out,
                           std::string& error);

class MemoryLimiter : public component::Processor {
 public:
  using MemoryReader = std::function<std::size_t()>;

  // `read_memory` defaults to the process RSS; tests inject their own. It is called from the
  // io_context thread and from start().
  MemoryLimiter(std::string id, model::Signal signal, std::string pipeline, component::Consumer& next,
                MemoryLimits limits, telemetry::Telemetry& telemetry, MemoryReader read_memory = {});
  ~MemoryLimiter() override;

  // Checks once right away, then every check_interval on host.io_context().
  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;
  component::Status consume(model::Batch&& batch) override;
  bool mutates_data() const override { return false; }

  // One measurement and flag update (the timer calls it; tests may too).
  void check();
  bool refusing() const;
  const MemoryLimits& limits() const { return limits_; }

  // Set when the limits could not be computed; start() then fails with it.
  void set_config_error(std::string error) { config_error_ = std::move(error); }

 private:
  struct Checker;

  std::string id_;
  model::Signal signal_;
  std::string pipeline_;
  component::Consumer& next_;
  MemoryLimits limits_;
  telemetry::ProcessorMetrics metrics_;
  prometheus::Counter* refused_;  // looked up once: the refusal path runs per batch under pressure
  std::string config_error_;
  // Shared with the timer's handlers, which may outlive a shutdown by one run.
  std::shared_ptr<Checker> checker_;
};

component::Factory memory_limiter_processor_factory();

}  // namespace vigil::processors
