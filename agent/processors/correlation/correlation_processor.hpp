#pragma once
// The `correlation` processor (logs and traces): trace context and request IDs onto log records
// and spans, joined across signals through a table shared by every instance of one component ID.
// See README.md.
//
// Ownership: consume() takes the batch. Without join.wait it passes the batch on and returns the
// next consumer's answer. With join.wait, a held log batch is the processor's (Ok was answered),
// so a later refusal by the next consumer is a counted, logged drop; shutdown() sends everything
// held. The join table is shared (SharedState) and outlives a reload.
// Thread-safety: consume() from any number of threads; start/shutdown from the control thread.
// Held batches are released by the processor's own thread (see correlation_processor.cpp).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/processors/correlation/join_table.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::processors {

struct CorrelationSettings {
  std::vector<std::string> trace_id_fields{"trace_id", "traceId", "trace.id", "otel.trace_id"};
  std::vector<std::string> span_id_fields{"span_id", "spanId", "span.id", "otel.span_id"};
  std::vector<std::string> traceparent_fields{"traceparent"};
  std::vector<std::string> xray_header_fields{"X-Amzn-Trace-Id", "x-amzn-trace-id"};
  std::vector<std::string> request_id_fields{"request_id", "requestId", "x-request-id", "correlation_id",
                                             "correlationId"};
  std::string request_id_attribute = "correlation.id";
  // When a JSON string body is read for fields: kAuto only when the attributes hold none of the
  // configured fields (a line no parser split; after filelog's json_parser the attributes already
  // hold the line's fields, and parsing the body again would double the cost of a record).
  enum class JsonBody { kAuto, kAlways, kNever };
  JsonBody json_body = JsonBody::kAuto;
  std::size_t join_max_entries = 100000;  // 0: no join
  std::chrono::nanoseconds join_ttl = std::chrono::minutes(5);
  std::chrono::nanoseconds join_wait{0};
  std::size_t join_max_pending_batches = 1000;
  std::vector<std::string> service_name_from_attributes{"k8s.container.name"};
  std::string service_name_default;
  // The join table's clock (TTL); tests replace it. Hold deadlines use the steady clock.
  std::function<component::Clock::time_point()> clock = [] { return component::Clock::now(); };
};

CorrelationSettings read_correlation_settings(const config::Settings& settings);

class CorrelationProcessor : public component::Processor, private correlation::JoinTable::Waiter {
 public:
  CorrelationProcessor(std::string id, model::Signal signal, std::string pipeline, component::Consumer& next,
                       CorrelationSettings settings, telemetry::Telemetry& telemetry);
  ~CorrelationProcessor() override;

  // Logs with join.wait > 0: starts the release thread; "cannot start thread: ..." when it cannot.
  component::Status start(component::Host& host) override;
  // Stops the release thread and sends everything held, in the calling thread.
  void shutdown(component::Deadline deadline) override;
  component::Status consume(model::Batch&& batch) override;
  bool mutates_data() const override { return true; }

  std::size_t held_batches() const;
  // Entries in the shared join table (0 without a join).
  std::size_t join_entries() const { return table_ ? table_->size() : 0; }

 private:
  struct Impl;  // the per-batch work and the counters, in the .cpp
  // A log batch waiting for spans (join.wait): the records whose request ID had no entry yet.
  struct Pending {
    model::LogRecord* record;
    std::string_view request_id;  // in the batch's memory
  };
  struct Held {
    model::Batch batch;
    component::Clock::time_point deadline;
    std::vector<Pending> pending;
  };

  void table_changed() override;
  void release_loop();
  void emit(std::vector<model::Batch>& batches);

  std::string id_;
  model::Signal signal_;
  std::string pipeline_;
  component::Consumer& next_;
  CorrelationSettings settings_;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<correlation::JoinTable> table_;
  telemetry::ProcessorMetrics metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Held> held_;
  bool changed_ = false;
  bool stopped_ = false;
  bool waiting_registered_ = false;
  std::thread thread_;
};

component::Factory correlation_processor_factory();

}  // namespace vigil::processors
