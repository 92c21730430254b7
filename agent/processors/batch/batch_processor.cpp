#include "agent/processors/batch/batch_processor.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "agent/telemetry/log.hpp"

namespace vigil::processors {

using component::Status;
using model::Batch;

// Why a thread of its own rather than a steady_timer on the host's io_context: the timeout flush
// calls the next consumer, which may block (an exporter with block_on_overflow, or one without a
// queue that sends and retries in the caller's thread). On the shared io_context that would
// stall every receiver's network I/O. The thread also makes shutdown simple: join it, and no
// timer handler can run after the processor is gone. It costs one mostly-sleeping thread per
// batch processor instance (one per pipeline).

BatchSettings read_batch_settings(const config::Settings& settings) {
  BatchSettings s;
  s.send_batch_size = static_cast<std::size_t>(std::max<std::int64_t>(settings.get_int("send_batch_size"), 0));
  s.send_batch_max_size = static_cast<std::size_t>(std::max<std::int64_t>(settings.get_int("send_batch_max_size"), 0));
  s.timeout = settings.get_duration("timeout");
  return s;
}

BatchProcessor::BatchProcessor(std::string id, model::Signal signal, std::string pipeline, component::Consumer& next,
                               BatchSettings settings, telemetry::Telemetry& telemetry)
    : id_(std::move(id)),
      signal_(signal),
      pipeline_(std::move(pipeline)),
      next_(next),
      settings_(settings),
      metrics_(telemetry.processor(id_, signal, pipeline_)) {}

BatchProcessor::~BatchProcessor() { shutdown(component::Clock::now()); }

Status BatchProcessor::start(component::Host&) {
  std::lock_guard lock(mu_);
  if (stopped_ || timer_.joinable() || settings_.timeout.count() <= 0) return Status::ok();
  try {
    timer_ = std::thread([this] { timer_loop(); });
  } catch (const std::exception& e) {
    // std::system_error at the pid limit (pids.max in a container). Nothing else was started:
    // timer_ stays empty, and the graph tears the pipeline down on this error.
    const std::string message = std::string("cannot start thread: ") + e.what();
    telemetry::log(telemetry::Level::kError, id_, message);
    return Status::permanent(message);
  }
  return Status::ok();
}

std::size_t BatchProcessor::pending_items() const {
  std::lock_guard lock(mu_);
  return pending_items_;
}

void BatchProcessor::take_due(std::vector<Batch>& out, bool everything) {
  const std::size_t max = settings_.send_batch_max_size;
  bool split = false;
  // As in the Collector: send while the size trigger holds (always with a zero size or timeout),
  // each output at most send_batch_max_size; a smaller remainder waits for more data or the timer.
  while (pending_items_ > 0 &&
         (everything || settings_.timeout.count() <= 0 || pending_items_ >= settings_.send_batch_size)) {
    if (max > 0 && pending_items_ > max) {
      out.push_back(pending_->split_front(max));
      pending_items_ -= max;
      split = true;
    } else {
      out.push_back(std::move(*pending_));
      pending_.reset();
      pending_items_ = 0;
    }
  }
  if (split && pending_items_ > 0) {
    // The remainder of split_front() keeps alive every arena the pending batch ever held, and
    // it would keep collecting more: memory grew without bound (11 GB after 1600 splits in a
    // probe). A copy of the remainder (fewer than send_batch_size items) holds only its own.
    *pending_ = pending_->deep_copy();
  }
}

Status BatchProcessor::consume(Batch&& batch) {
  const std::size_t items = batch.item_count();
  if (items == 0) return Status::ok();  // nothing to send, nothing lost
  std::vector<Batch> due;  // allocates only when something is due
  {
    std::unique_lock lock(mu_);
    if (stopped_) {
      // After shutdown there is no timer: pass the data straight on rather than hold it. The
      // processor never owned it, so the caller gets the next consumer's answer (and counts a
      // refusal itself) instead of an Ok for data that was dropped.
      lock.unlock();
      return next_.consume(std::move(batch));
    }
    const bool was_empty = pending_items_ == 0;
    if (was_empty) {
      pending_.emplace(std::move(batch));
    } else {
      pending_->append(std::move(batch));
    }
    pending_items_ += items;
    take_due(due, false);
    if (pending_items_ > 0 && (was_empty || !due.empty())) {
      // The timeout counts from the first item of what is pending now.
      flush_at_ = component::Clock::now() + settings_.timeout;
      timer_cv_.notify_one();
    }
  }
  // Outside the lock: the next consumer may take its time, others keep batching meanwhile.
  emit(due);
  return Status::ok();
}

void BatchProcessor::emit(std::vector<Batch>& batches) {
  for (Batch& b : batches) {
    const std::size_t items = b.item_count();
    Status s = next_.consume(std::move(b));
    if (s.is_ok()) continue;
    // The processor already answered Ok for these items, so nobody upstream can retry them.
    const char* reason = s.is_permanent() ? "permanent" : "refused_downstream";
    metrics_.dropped(reason).Increment(static_cast<double>(items));
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/" + pipeline_ + "/" + reason, id_,
                           "dropped " + std::to_string(items) + " " + std::string(model::signal_item_name(signal_)) +
                               " refused by the next consumer: " + s.message());
  }
  batches.clear();
}

void BatchProcessor::timer_loop() {
  std::vector<Batch> due;
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (pending_items_ == 0) {
      timer_cv_.wait(lock);
      continue;
    }
    if (component::Clock::now() < flush_at_) {
      timer_cv_.wait_until(lock, flush_at_);
      continue;  // re-check: a size flush may have re-armed or emptied it meanwhile
    }
    take_due(due, true);
    lock.unlock();
    emit(due);
    lock.lock();
  }
}

void BatchProcessor::shutdown(component::Deadline) {
  std::vector<Batch> due;
  {
    std::lock_guard lock(mu_);
    take_due(due, true);
    stopped_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  emit(due);
}

component::Factory batch_processor_factory() {
  component::Factory f;
  f.kind = component::Kind::kProcessor;
  f.type = "batch";
  f.description = "Groups data into larger batches by size and time before the exporters.";
  f.signals = {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs};
  f.schema = {
      config::opt_int("send_batch_size", 8192,
                      "Items (spans, metric data points, log records) that trigger a send regardless of the "
                      "timeout. 0 sends every batch right away.",
                      0),
      config::opt_int("send_batch_max_size", 0,
                      "Upper bound of a sent batch in items; larger ones are split. 0: no limit. Must be >= "
                      "send_batch_size when set.",
                      0),
      config::opt_duration("timeout", "200ms",
                           "Time after the first pending item after which the batch is sent regardless of size. "
                           "0 sends right away.",
                           0.0),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    const std::int64_t size = s.get_int("send_batch_size");
    const std::int64_t max = s.get_int("send_batch_max_size");
    if (max != 0 && max < size) {
      errors.push_back({s.location("send_batch_max_size"), id,
                        "send_batch_max_size (" + std::to_string(max) + ") must be greater than or equal to "
                            "send_batch_size (" + std::to_string(size) + ")"});
    }
  };
  f.create_processor = [](const component::CreateSettings& cs, model::Signal signal, component::Consumer& next) {
    return std::make_unique<BatchProcessor>(cs.id, signal, cs.pipeline, next, read_batch_settings(cs.settings),
                                            cs.telemetry);
  };
  return f;
}

}  // namespace vigil::processors
