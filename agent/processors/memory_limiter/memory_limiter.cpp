#include "agent/processors/memory_limiter/memory_limiter.hpp"

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/telemetry/log.hpp"

namespace vigil::processors {

using component::Status;
using model::Batch;

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::size_t mib(std::size_t bytes) { return bytes / kMiB; }

// First number in a file ("max" or unreadable: 0).
std::size_t read_number_file(const char* path) {
  std::ifstream in(path);
  unsigned long long v = 0;
  if (!(in >> v)) return 0;
  return static_cast<std::size_t>(v);
}

}  // namespace

std::size_t total_memory_bytes() {
  std::size_t total = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  unsigned long long kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemTotal:") {
      total = static_cast<std::size_t>(kb) * 1024;
      break;
    }
  }
  // cgroup v2 ("max" reads as 0), then v1 (an unset limit is a huge number, which min() ignores).
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::size_t limit = read_number_file(path);
    if (limit > 0 && (total == 0 || limit < total)) total = limit;
  }
  return total;
}

bool compute_memory_limits(const config::Settings& settings, std::size_t total_memory, MemoryLimits& out,
                           std::string& error) {
  const std::int64_t limit_mib = settings.get_int("limit_mib");
  const std::int64_t spike_mib = settings.get_int("spike_limit_mib");
  const std::int64_t limit_pct = settings.get_int("limit_percentage");
  const std::int64_t spike_pct = settings.get_int("spike_limit_percentage");
  out.check_interval = settings.get_duration("check_interval");
  if (limit_mib > 0) {
    out.limit_bytes = static_cast<std::size_t>(limit_mib) * kMiB;
    out.spike_bytes = spike_mib > 0 ? static_cast<std::size_t>(spike_mib) * kMiB : out.limit_bytes / 5;
    return true;
  }
  if (total_memory == 0) {
    error = "limit_percentage needs the total memory, which could not be read from /proc/meminfo or the cgroup";
    return false;
  }
  out.limit_bytes = total_memory / 100 * static_cast<std::size_t>(limit_pct);
  out.spike_bytes =
      spike_pct > 0 ? total_memory / 100 * static_cast<std::size_t>(spike_pct) : out.limit_bytes / 5;
  return true;
}

// The periodic check. Lives in a shared_ptr so that a timer handler already queued when the
// limiter shuts down still finds valid memory.
struct MemoryLimiter::Checker : std::enable_shared_from_this<MemoryLimiter::Checker> {
  enum Level { kBelow = 0, kAboveSoft = 1, kAboveHard = 2 };

  std::string id;
  MemoryLimits limits;
  MemoryReader read;
  std::atomic<bool> refusing{false};

  std::mutex mu;  // everything below
  std::condition_variable idle;
  Level level = kBelow;
  bool stopped = false;
  bool waiting = false;  // a timer handler is outstanding
  std::optional<boost::asio::steady_timer> timer;

  void measure() {
    const std::size_t used = read();
    const Level now = used >= limits.limit_bytes        ? kAboveHard
                      : used >= limits.soft_limit_bytes() ? kAboveSoft
                                                          : kBelow;
    refusing.store(now != kBelow, std::memory_order_relaxed);
    std::lock_guard lock(mu);
    if (now == level) return;
    const std::string figures = "memory " + std::to_string(mib(used)) + " MiB, soft limit " +
                                std::to_string(mib(limits.soft_limit_bytes())) + " MiB, hard limit " +
                                std::to_string(mib(limits.limit_bytes)) + " MiB";
    if (now == kAboveHard) {
      telemetry::log(telemetry::Level::kWarn, id, "memory above the hard limit, refusing data (" + figures + ")");
    } else if (now == kAboveSoft && level == kBelow) {
      telemetry::log(telemetry::Level::kWarn, id, "memory above the soft limit, refusing data (" + figures + ")");
    } else if (now == kBelow) {
      telemetry::log(telemetry::Level::kInfo, id, "memory below the soft limit, accepting data again (" + figures + ")");
    }
    level = now;
  }

  // With mu held.
  void arm() {
    waiting = true;
    timer->expires_after(limits.check_interval);
    timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->measure();
      std::lock_guard lock(self->mu);
      if (!ec && !self->stopped) {
        self->arm();
        return;
      }
      self->waiting = false;
      self->idle.notify_all();
    });
  }
};

MemoryLimiter::MemoryLimiter(std::string id, model::Signal signal, std::string pipeline, component::Consumer& next,
                             MemoryLimits limits, telemetry::Telemetry& telemetry, MemoryReader read_memory)
    : id_(std::move(id)),
      signal_(signal),
      pipeline_(std::move(pipeline)),
      next_(next),
      limits_(limits),
      metrics_(telemetry.processor(id_, signal, pipeline_)),
      refused_(&metrics_.refused("memory_limit")),
      checker_(std::make_shared<Checker>()) {
  checker_->id = id_;
  checker_->limits = limits_;
  checker_->read = read_memory ? std::move(read_memory) : MemoryReader(&telemetry::resident_memory_bytes);
}

MemoryLimiter::~MemoryLimiter() { shutdown(component::Clock::now()); }

Status MemoryLimiter::start(component::Host& host) {
  if (!config_error_.empty()) return Status::permanent(config_error_);
  if (limits_.check_interval.count() <= 0) return Status::permanent("check_interval must be greater than 0");
  checker_->measure();
  std::lock_guard lock(checker_->mu);
  if (checker_->stopped || checker_->timer) return Status::ok();
  checker_->timer.emplace(host.io_context());
  checker_->arm();
  return Status::ok();
}

void MemoryLimiter::shutdown(component::Deadline deadline) {
  std::unique_lock lock(checker_->mu);
  if (checker_->stopped) return;
  checker_->stopped = true;
  if (checker_->timer) checker_->timer->cancel();
  // Wait for the cancelled handler so the timer dies here, with the io_context still alive. If
  // the io_context no longer runs, the handler (holding the checker) dies with it instead.
  checker_->idle.wait_until(lock, deadline, [this] { return !checker_->waiting; });
}

void MemoryLimiter::check() { checker_->measure(); }

bool MemoryLimiter::refusing() const { return checker_->refusing.load(std::memory_order_relaxed); }

Status MemoryLimiter::consume(Batch&& batch) {
  if (!checker_->refusing.load(std::memory_order_relaxed)) return next_.consume(std::move(batch));
  refused_->Increment(static_cast<double>(batch.item_count()));
  return Status::retryable("memory usage is above the soft limit of " +
                           std::to_string(mib(limits_.soft_limit_bytes())) + " MiB");
}

component::Factory memory_limiter_processor_factory() {
  component::Factory f;
  f.kind = component::Kind::kProcessor;
  f.type = "memory_limiter";
  f.description = "Refuses data (retryable) while the agent's memory is above a limit.";
  f.signals = {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs};
  f.schema = {
      config::opt_duration("check_interval", "1s",
                           "Time between memory measurements. The Collector has no default (it must be set); "
                           "Vigil uses 1s.",
                           0.0),
      config::opt_int("limit_mib", 0, "Hard limit of the agent's resident memory, in MiB.", 0),
      config::opt_int("spike_limit_mib", 0,
                      "Headroom below limit_mib: data is refused above limit_mib - spike_limit_mib. "
                      "Default 20% of limit_mib.",
                      0),
      config::opt_int("limit_percentage", 0,
                      "Hard limit as a percentage of total memory (MemTotal, or the cgroup limit when lower).", 0,
                      100),
      config::opt_int("spike_limit_percentage", 0,
                      "Headroom below limit_percentage, in percent of total memory. Default 20% of the limit.", 0,
                      100),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    auto error = [&](std::string_view path, std::string message) {
      errors.push_back({s.location(path), id, std::move(message)});
    };
    if (s.get_duration("check_interval").count() <= 0) error("check_interval", "check_interval must be greater than 0");
    const std::int64_t limit_mib = s.get_int("limit_mib");
    const std::int64_t spike_mib = s.get_int("spike_limit_mib");
    const std::int64_t limit_pct = s.get_int("limit_percentage");
    const std::int64_t spike_pct = s.get_int("spike_limit_percentage");
    if (limit_mib > 0 && limit_pct > 0) {
      error("limit_percentage", "set only one of limit_mib and limit_percentage");
    } else if (limit_mib <= 0 && limit_pct <= 0) {
      error({}, "one of limit_mib or limit_percentage must be set (greater than 0)");
    }
    if (limit_mib > 0 && spike_mib >= limit_mib) {
      error("spike_limit_mib", "spike_limit_mib (" + std::to_string(spike_mib) + ") must be less than limit_mib (" +
                                   std::to_string(limit_mib) + ")");
    }
    if (limit_pct > 0 && spike_pct >= limit_pct) {
      error("spike_limit_percentage", "spike_limit_percentage (" + std::to_string(spike_pct) +
                                          ") must be less than limit_percentage (" + std::to_string(limit_pct) + ")");
    }
    if (limit_pct > 0 && spike_mib > 0) error("spike_limit_mib", "spike_limit_mib goes with limit_mib, not limit_percentage");
    if (limit_mib > 0 && spike_pct > 0) {
      error("spike_limit_percentage", "spike_limit_percentage goes with limit_percentage, not limit_mib");
    }
  };
  f.create_processor = [](const component::CreateSettings& cs, model::Signal signal, component::Consumer& next) {
    MemoryLimits limits;
    std::string error;
    const bool by_percentage = cs.settings.get_int("limit_mib") <= 0;
    bool ok = compute_memory_limits(cs.settings, by_percentage ? total_memory_bytes() : 0, limits, error);
    auto p = std::make_unique<MemoryLimiter>(cs.id, signal, cs.pipeline, next, limits, cs.telemetry);
    if (!ok) p->set_config_error(std::move(error));
    return p;
  };
  return f;
}

}  // namespace vigil::processors
