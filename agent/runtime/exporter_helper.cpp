#include "agent/runtime/exporter_helper.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <optional>
#include <string>

#include "agent/telemetry/log.hpp"

namespace vigil::runtime {

using component::Status;
using model::Batch;
using namespace std::chrono_literals;

config::Option sending_queue_option() {
  return config::opt_object(
      "sending_queue", "The bounded in-memory queue in front of the sender.",
      {
          config::opt_bool("enabled", true, "Queue batches and send them from background consumers. "
                                            "False sends synchronously in the pipeline's thread."),
          // Upper bounds: each consumer is a thread, and a typo must not ask for a million of
          // them (or a queue that can hold all of memory).
          config::opt_int("num_consumers", 10, "Threads sending from the queue concurrently.", 1, 1000),
          config::opt_int("queue_size", 1000, "Maximum number of batches in the queue.", 1, 1'000'000),
          config::opt_bool("block_on_overflow", false,
                           "When the queue is full, wait for room instead of refusing the batch "
                           "(the refusal tells receivers to answer \"retry later\"). The wait ends when "
                           "the agent shuts down or reloads."),
      });
}

config::Option retry_on_failure_option() {
  return config::opt_object(
      "retry_on_failure", "Retries of retryable failures with jittered exponential backoff.",
      {
          config::opt_bool("enabled", true, "Retry retryable failures; false drops them."),
          // A zero interval would retry in a busy loop, hence the 1 ms floor.
          config::opt_duration("initial_interval", "5s", "Wait before the first retry.", 0.001),
          config::opt_duration("max_interval", "30s", "Upper bound of the wait between retries.", 0.001),
          config::opt_duration("max_elapsed_time", "300s",
                               "Give up (and drop) after this long since the first attempt; 0 retries until shutdown.",
                               0.0),
          config::opt_double("multiplier", 1.5, "Growth factor of the wait between retries.", 1.0),
          config::opt_double("randomization_factor", 0.5,
                             "Jitter: each wait is picked in [wait*(1-f), wait*(1+f)].", 0.0, 1.0),
      });
}

QueueSettings read_queue_settings(const config::Settings& settings) {
  QueueSettings q;
  q.enabled = settings.get_bool("sending_queue.enabled");
  q.num_consumers = static_cast<int>(settings.get_int("sending_queue.num_consumers"));
  q.queue_size = static_cast<int>(settings.get_int("sending_queue.queue_size"));
  q.block_on_overflow = settings.get_bool("sending_queue.block_on_overflow");
  return q;
}

RetrySettings read_retry_settings(const config::Settings& settings) {
  RetrySettings r;
  r.enabled = settings.get_bool("retry_on_failure.enabled");
  r.initial_interval = settings.get_duration("retry_on_failure.initial_interval");
  r.max_interval = settings.get_duration("retry_on_failure.max_interval");
  r.max_elapsed_time = settings.get_duration("retry_on_failure.max_elapsed_time");
  r.multiplier = settings.get_double("retry_on_failure.multiplier");
  r.randomization_factor = settings.get_double("retry_on_failure.randomization_factor");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Backoff

Backoff::Backoff(const RetrySettings& settings, std::uint64_t seed)
    : settings_(settings), current_(settings.initial_interval), rng_(seed) {}

void Backoff::reset() { current_ = settings_.initial_interval; }

std::chrono::nanoseconds Backoff::next() {
  std::chrono::nanoseconds base = std::min(current_, settings_.max_interval);
  double grown = static_cast<double>(current_.count()) * settings_.multiplier;
  current_ = grown >= static_cast<double>(settings_.max_interval.count())
                 ? settings_.max_interval
                 : std::chrono::nanoseconds(static_cast<std::int64_t>(grown));
  double f = std::clamp(settings_.randomization_factor, 0.0, 1.0);
  if (f == 0.0) return base;
  std::uniform_real_distribution<double> jitter(1.0 - f, 1.0 + f);
  return std::chrono::nanoseconds(std::llround(static_cast<double>(base.count()) * jitter(rng_)));
}

// ---------------------------------------------------------------------------------------------
// ExporterHelper

ExporterHelper::ExporterHelper(std::string id, model::Signal signal, std::unique_ptr<component::Sender> sender,
                               QueueSettings queue, RetrySettings retry, telemetry::Telemetry& telemetry)
    : id_(std::move(id)),
      signal_(signal),
      sender_(std::move(sender)),
      queue_settings_(queue),
      retry_settings_(retry),
      metrics_(telemetry.exporter(id_, signal)),
      seed_(std::random_device{}()) {
  queue_settings_.num_consumers = std::max(queue_settings_.num_consumers, 1);
  queue_settings_.queue_size = std::max(queue_settings_.queue_size, 1);
  metrics_.queue_capacity->Set(queue_settings_.enabled ? queue_settings_.queue_size : 0);
  // queue_size is not reset here: at a reload this helper is built while its predecessor (same
  // gauge) still runs and owns the value; adopt_pending() sets it when the queue changes hands.
}

ExporterHelper::~ExporterHelper() {
  // The service shuts exporters down explicitly; this only keeps threads from outliving us.
  shutdown(component::Clock::now());
}

Status ExporterHelper::start(component::Host& host) {
  {
    std::lock_guard lock(mu_);
    if (started_ || shut_down_) return Status::ok();
  }
  Status s = sender_->start(host);
  if (!s.is_ok()) return s;
  Status spawned;
  {
    std::lock_guard lock(mu_);
    started_ = true;
    if (queue_settings_.enabled) {
      spawned = spawn_consumers(queue_settings_.num_consumers);
    } else if (!queue_.empty()) {
      // Batches adopted before start from a queued predecessor: one thread sends them.
      spawned = spawn_consumers(1);
    }
    accepting_ = spawned.is_ok();
  }
  if (!spawned.is_ok()) {
    // Undo: a half-started exporter (fewer consumers, the sender running) must not linger.
    // shutdown() stops and joins the consumers that did start, drops (counted) what was
    // adopted, and shuts the sender down; this exporter stays shut down.
    shutdown(component::Clock::now());
    return spawned;
  }
  return Status::ok();
}

Status ExporterHelper::spawn_consumers(int n) {
  // Called with mu_ held; the threads block on mu_ until the caller releases it, so counting a
  // thread after it exists is safe (it decrements the count when it exits).
  try {
    consumers_.reserve(consumers_.size() + static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      consumers_.emplace_back([this] { consumer_loop(); });
      ++live_consumers_;
    }
  } catch (const std::exception& e) {
    // std::system_error when the pid limit (pids.max in a container) is reached; bad_alloc.
    const std::string message = std::string("cannot start thread: ") + e.what();
    telemetry::log(telemetry::Level::kError, id_, message);
    return Status::permanent(message);
  }
  return Status::ok();
}

void ExporterHelper::set_queue_gauge() {
  if (owns_queue_gauge_) metrics_.queue_size->Set(static_cast<double>(queue_.size()));
}

void ExporterHelper::join_consumers() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(consumers_);
  }
  for (std::thread& t : threads) t.join();
}

std::size_t ExporterHelper::queue_size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void ExporterHelper::refuse(std::size_t items, std::string_view reason) {
  metrics_.enqueue_failed(reason).Increment(static_cast<double>(items));
  telemetry::log_limited(telemetry::Level::kWarn, id_ + "/enqueue/" + std::string(reason), id_,
                         "refused " + std::to_string(items) + " " + std::string(model::signal_item_name(signal_)) +
                             ": " + std::string(reason));
}

void ExporterHelper::count_dropped(const Batch& batch, std::string_view reason) {
  count_dropped(batch.item_count(), reason);
}

void ExporterHelper::count_dropped(std::size_t items, std::string_view reason) {
  metrics_.send_failed(reason).Increment(static_cast<double>(items));
  telemetry::log_limited(telemetry::Level::kWarn, id_ + "/drop/" + std::string(reason), id_,
                         "dropped " + std::to_string(items) + " " + std::string(model::signal_item_name(signal_)) +
                             ": " + std::string(reason));
}

Status ExporterHelper::consume(Batch&& batch) {
  if (!queue_settings_.enabled) return send_now(std::move(batch));

  const std::size_t items = batch.item_count();
  const auto capacity = static_cast<std::size_t>(queue_settings_.queue_size);
  std::unique_lock lock(mu_);
  // After begin_drain() the capacity no longer applies: the graph is stopping, what still comes
  // is what its processors flush, and it must be handed over or sent, not refused or waited on.
  if (accepting_ && !drain_begun_ && queue_.size() >= capacity) {
    if (!queue_settings_.block_on_overflow) {
      lock.unlock();
      refuse(items, "queue_full");
      return Status::retryable("sending queue is full");
    }
    not_full_.wait(lock, [&] { return !accepting_ || drain_begun_ || queue_.size() < capacity; });
  }
  if (!accepting_) {
    lock.unlock();
    refuse(items, "shutting_down");
    return Status::retryable("exporter is not running");
  }
  queue_.push_back(std::move(batch));
  set_queue_gauge();
  lock.unlock();
  not_empty_.notify_one();
  return Status::ok();
}

void ExporterHelper::begin_drain() {
  {
    std::lock_guard lock(mu_);
    drain_begun_ = true;
  }
  not_full_.notify_all();  // producers waiting under block_on_overflow enqueue now
}

Status ExporterHelper::send_now(Batch&& batch) {
  {
    std::unique_lock lock(mu_);
    if (!accepting_) {
      lock.unlock();
      refuse(batch.item_count(), "shutting_down");
      return Status::retryable("exporter is not running");
    }
    ++sync_in_flight_;
  }
  // The rule without the queue: the batch is still the caller's. Every failure goes back to
  // the caller, which counts it where it gives up (a processor's dropped, a receiver's refused,
  // or nowhere when the client retries and nothing was lost); counting it here too in
  // send_failed would count one loss twice.
  Status status;
  SendResult r = send_with_retry(batch, FailureOwner::kCaller, &status);
  if (r == SendResult::kAborted) status = Status::retryable("exporter is shutting down");
  {
    std::lock_guard lock(mu_);
    --sync_in_flight_;
  }
  idle_cv_.notify_all();
  return status;
}

ExporterHelper::SendResult ExporterHelper::send_with_retry(const Batch& batch, FailureOwner owner,
                                                          Status* final_status) {
  const bool counted_here = owner == FailureOwner::kHelper;
  const auto start = component::Clock::now();
  std::optional<Backoff> backoff;  // built on the first failure: the healthy path stays cheap
  for (;;) {
    Status s = sender_->send(batch);
    if (s.is_ok()) {
      metrics_.sent->Increment(static_cast<double>(batch.item_count()));
      if (final_status != nullptr) *final_status = Status::ok();
      return SendResult::kSent;
    }
    if (s.is_permanent()) {
      if (counted_here) count_dropped(batch, "permanent");
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/permanent", id_, "permanent error: " + s.message());
      if (final_status != nullptr) *final_status = std::move(s);
      return SendResult::kDropped;
    }
    if (!retry_settings_.enabled) {
      if (counted_here) count_dropped(batch, "retry_disabled");
      if (final_status != nullptr) *final_status = std::move(s);
      return SendResult::kDropped;
    }

    std::unique_lock lock(mu_);
    if (abort_retries_) return SendResult::kAborted;
    if (!backoff) backoff.emplace(retry_settings_, seed_++);
    // The Collector's rule: never retry sooner than the server asked (Retry-After, RetryInfo),
    // nor sooner than our own backoff.
    std::chrono::nanoseconds wait = std::max<std::chrono::nanoseconds>(backoff->next(), s.retry_after());
    const auto now = component::Clock::now();
    if (retry_settings_.max_elapsed_time.count() > 0 && (now - start) + wait > retry_settings_.max_elapsed_time) {
      lock.unlock();
      if (counted_here) count_dropped(batch, "retries_exhausted");
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/exhausted", id_,
                             "giving up after retrying for " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count()) +
                                 " ms: " + s.message());
      if (final_status != nullptr) *final_status = Status::retryable("retries exhausted: " + s.message());
      return SendResult::kDropped;
    }
    if (stop_cv_.wait_until(lock, now + wait, [this] { return abort_retries_; })) return SendResult::kAborted;
  }
}

void ExporterHelper::consumer_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    // Wakes with an empty queue only when it is time to exit: draining for shutdown, or without
    // the queue, where this thread only sends batches adopted from a predecessor.
    not_empty_.wait(lock, [&] { return stopping_ || !queue_.empty() || draining_ || !queue_settings_.enabled; });
    if (stopping_ || queue_.empty()) break;
    // Pop only now, right before sending: everything not yet being sent stays in the queue,
    // where take_pending() can hand it over in order.
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    const std::uint64_t seq = pop_seq_++;
    set_queue_gauge();
    lock.unlock();
    not_full_.notify_one();

    SendResult r = send_with_retry(batch, FailureOwner::kHelper, nullptr);

    lock.lock();
    if (r == SendResult::kAborted) {
      if (handing_over_) {
        returned_.emplace_back(seq, std::move(batch));
      } else {
        lock.unlock();
        count_dropped(batch, "shutdown");
        lock.lock();
      }
    }
  }
  --live_consumers_;
  lock.unlock();
  idle_cv_.notify_all();
}

void ExporterHelper::shutdown(component::Deadline deadline) {
  {
    std::unique_lock lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    accepting_ = false;
    draining_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
    // Consumers keep sending (and retrying) until the queue is empty or the deadline passes.
    if (!idle_cv_.wait_until(lock, deadline, [this] { return live_consumers_ == 0 && sync_in_flight_ == 0; })) {
      stopping_ = true;
      abort_retries_ = true;
      not_empty_.notify_all();
      stop_cv_.notify_all();
    }
  }
  // A sender call in progress is not interrupted: senders bound their own calls with timeouts.
  join_consumers();
  std::size_t dropped_items = 0;
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [this] { return sync_in_flight_ == 0; });
    for (const Batch& b : queue_) dropped_items += b.item_count();
    queue_.clear();
    set_queue_gauge();  // not after take_pending: the successor owns the gauge then
  }
  if (dropped_items > 0) count_dropped(dropped_items, "shutdown");
  sender_->shutdown(deadline);
}

std::deque<Batch> ExporterHelper::take_pending(component::Deadline deadline) {
  {
    std::unique_lock lock(mu_);
    accepting_ = false;
    stopping_ = true;
    handing_over_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
    // Consumers finish the batch they are sending; a batch still failing at the deadline comes
    // back to the queue instead of being dropped.
    if (!idle_cv_.wait_until(lock, deadline, [this] { return live_consumers_ == 0; })) {
      abort_retries_ = true;
      stop_cv_.notify_all();
    }
  }
  join_consumers();
  std::lock_guard lock(mu_);
  // Aborted batches were popped before anything still queued; among themselves, pop order.
  std::sort(returned_.begin(), returned_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto it = returned_.rbegin(); it != returned_.rend(); ++it) queue_.push_front(std::move(it->second));
  returned_.clear();
  std::deque<Batch> out;
  out.swap(queue_);
  set_queue_gauge();
  // The gauge is shared with the successor (same exporter ID and signal), which adopts these
  // batches: from now on only it may set it, or our shutdown would reset its value to 0.
  owns_queue_gauge_ = false;
  return out;
}

void ExporterHelper::adopt_pending(std::deque<Batch>&& pending) {
  std::lock_guard lock(mu_);
  if (pending.empty()) {
    // Still take over the gauge the predecessor's take_pending() just set to 0.
    if (!shut_down_) set_queue_gauge();
    return;
  }
  if (shut_down_) {
    std::size_t items = 0;
    for (const Batch& b : pending) items += b.item_count();
    pending.clear();
    count_dropped(items, "shutdown");
    return;
  }
  // These batches were accepted by the previous exporter with this ID, so they go in even past
  // queue_size, and ahead of anything that arrived since, to keep their order.
  queue_.insert(queue_.begin(), std::make_move_iterator(pending.begin()), std::make_move_iterator(pending.end()));
  pending.clear();
  set_queue_gauge();
  // Without the queue there are no consumers: one thread sends the adopted batches and exits.
  // If it cannot be created, the batches stay queued: handed over at the next reload, or
  // dropped (counted) at shutdown; spawn_consumers() logged why.
  if (started_ && !queue_settings_.enabled && live_consumers_ == 0) (void)spawn_consumers(1);
  not_empty_.notify_all();
}

}  // namespace vigil::runtime
