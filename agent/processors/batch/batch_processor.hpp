#pragma once
// The batch processor (the Collector's `batch`): gathers incoming batches into larger ones, sent
// when `send_batch_size` items are pending or `timeout` after the first pending item arrived,
// never larger than `send_batch_max_size` (when set).
//
// Ownership: consume() takes the batch and answers Ok once it is buffered; from then on the data
// is the processor's, so a refusal by the next consumer is a counted, logged drop. After
// shutdown() nothing is buffered: consume() passes the batch on and returns the next consumer's
// answer.
// Thread-safety: consume() from any number of threads; start/shutdown from the control thread.
// The timeout flush runs on the processor's own thread (see batch_processor.cpp for why).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::processors {

struct BatchSettings {
  std::size_t send_batch_size = 8192;     // items; 0: no size trigger, send right away
  std::size_t send_batch_max_size = 0;    // items; 0: no limit
  std::chrono::nanoseconds timeout = std::chrono::milliseconds(200);  // 0: send right away
};

BatchSettings read_batch_settings(const config::Settings& settings);

class BatchProcessor : public component::Processor {
 public:
  BatchProcessor(std::string id, model::Signal signal, std::string pipeline, component::Consumer& next,
                 BatchSettings settings, telemetry::Telemetry& telemetry);
  ~BatchProcessor() override;

  // Starts the timer thread; "cannot start thread: ..." (permanent) when it cannot be created.
  component::Status start(component::Host& host) override;
  // Sends everything pending (synchronously, in the calling thread) and stops the timer thread.
  // The deadline is not enforced here: the send may wait on the next consumer (an exporter with
  // block_on_overflow), which the graph releases with ExporterHelper::begin_drain() first.
  void shutdown(component::Deadline deadline) override;
  component::Status consume(model::Batch&& batch) override;
  bool mutates_data() const override { return false; }

  std::size_t pending_items() const;

 private:
  // With mu_ held: moves into `out` every batch due for sending; `everything` also takes a
  // remainder smaller than send_batch_size (timeout, shutdown).
  void take_due(std::vector<model::Batch>& out, bool everything);
  void emit(std::vector<model::Batch>& batches);
  void timer_loop();

  std::string id_;
  model::Signal signal_;
  std::string pipeline_;
  component::Consumer& next_;
  BatchSettings settings_;
  telemetry::ProcessorMetrics metrics_;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  std::optional<model::Batch> pending_;
  std::size_t pending_items_ = 0;
  component::Clock::time_point flush_at_{};  // first pending item's arrival + timeout
  bool stopped_ = false;
  std::thread timer_;
};

component::Factory batch_processor_factory();

}  // namespace vigil::processors
