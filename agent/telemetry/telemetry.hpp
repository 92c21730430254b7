#pragma once
// Self-telemetry: the prometheus-cpp registry behind /metrics, and the metric families every
// component shares (Vector's component contract: received, sent, dropped with a reason).
//
// Thread-safety: all methods are thread-safe. Counters returned stay valid for the process
// lifetime (the registry outlives config reloads, so counters never reset on SIGHUP).

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agent/component/shared_state.hpp"
#include "agent/model/batch.hpp"

namespace vigil::telemetry {

// Counters of one receiver for one signal and transport.
struct ReceiverMetrics {
  prometheus::Counter* accepted = nullptr;
  prometheus::Counter* refused = nullptr;
};

// Counters and gauges of one exporter for one signal. Failures carry a reason label, looked up
// on the (rare) failure path.
class ExporterMetrics {
 public:
  prometheus::Counter* sent = nullptr;
  prometheus::Gauge* queue_size = nullptr;
  prometheus::Gauge* queue_capacity = nullptr;
  prometheus::Counter& send_failed(std::string_view reason);
  prometheus::Counter& enqueue_failed(std::string_view reason);

 private:
  friend class Telemetry;
  prometheus::Family<prometheus::Counter>* send_failed_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* enqueue_failed_family_ = nullptr;
  std::map<std::string, std::string> labels_;
};

class ProcessorMetrics {
 public:
  prometheus::Counter& dropped(std::string_view reason);
  prometheus::Counter& refused(std::string_view reason);

 private:
  friend class Telemetry;
  prometheus::Family<prometheus::Counter>* dropped_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* refused_family_ = nullptr;
  std::map<std::string, std::string> labels_;
};

class Telemetry {
 public:
  Telemetry();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  ReceiverMetrics receiver(std::string_view id, model::Signal signal, std::string_view transport);
  ExporterMetrics exporter(std::string_view id, model::Signal signal);
  ProcessorMetrics processor(std::string_view id, model::Signal signal, std::string_view pipeline);

  // A counter family by full name, created on first use (components' own metrics).
  prometheus::Family<prometheus::Counter>& counter_family(const std::string& name, const std::string& help);
  prometheus::Family<prometheus::Gauge>& gauge_family(const std::string& name, const std::string& help);

  // Refreshes process CPU and RSS gauges (called before each scrape and periodically).
  void update_process_metrics();

  // Component state that outlives config reloads (see shared_state.hpp). It lives here because
  // Telemetry is the one object every component gets that lasts as long as the agent.
  component::SharedState& shared_state() { return shared_state_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_;
  prometheus::Counter* cpu_seconds_ = nullptr;
  prometheus::Gauge* rss_bytes_ = nullptr;
  component::SharedState shared_state_;
};

// The process's resident set size in bytes, from /proc/self/statm (0 if unreadable).
std::size_t resident_memory_bytes();

}  // namespace vigil::telemetry
