#pragma once
// The exporter helper: what pipelines see of an exporter. A Consumer in front of a bounded
// sending queue, drained by `num_consumers` threads that call the Sender, retrying retryable
// failures with jittered exponential backoff. Option names and defaults are the Collector's
// (exporterhelper: sending_queue, retry_on_failure).
//
// Thread-safety: consume() and begin_drain() are safe from any number of threads. start/shutdown/
// take_pending/adopt_pending are called by the service's control thread only.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/config/schema.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::runtime {

struct QueueSettings {
  bool enabled = true;
  int num_consumers = 10;
  int queue_size = 1000;          // batches
  bool block_on_overflow = false;  // true: consume() waits for room (until begin_drain/shutdown) instead of refusing
};

struct RetrySettings {
  bool enabled = true;
  std::chrono::nanoseconds initial_interval = std::chrono::seconds(5);
  std::chrono::nanoseconds max_interval = std::chrono::seconds(30);
  std::chrono::nanoseconds max_elapsed_time = std::chrono::seconds(300);  // 0: retry until shutdown
  double multiplier = 1.5;
  double randomization_factor = 0.5;
};

// Schema entries the runtime adds to every queued exporter's schema.
config::Option sending_queue_option();
config::Option retry_on_failure_option();
QueueSettings read_queue_settings(const config::Settings& settings);
RetrySettings read_retry_settings(const config::Settings& settings);

// Jittered exponential backoff: interval i is min(initial * multiplier^i, max) randomised by
// +-randomization_factor. A server hint (Retry-After) replaces the computed delay when larger.
class Backoff {
 public:
  explicit Backoff(const RetrySettings& settings, std::uint64_t seed = std::random_device{}());
  std::chrono::nanoseconds next();
  void reset();

 private:
  RetrySettings settings_;
  std::chrono::nanoseconds current_;
  std::mt19937_64 rng_;
};

class ExporterHelper : public component::Consumer {
 public:
  ExporterHelper(std::string id, model::Signal signal, std::unique_ptr<component::Sender> sender,
                 QueueSettings queue, RetrySettings retry, telemetry::Telemetry& telemetry);
  ~ExporterHelper() override;

  const std::string& id() const { return id_; }
  model::Signal signal() const { return signal_; }

  // Starts the sender, then the queue consumers. A thread that cannot be created (pids.max)
  // fails the start permanently ("cannot start thread: ..."); the exporter is then shut down
  // (what it had adopted is dropped, counted), and no exception escapes.
  component::Status start(component::Host& host);
  // With the queue: enqueue or refuse (retryable "sending queue is full"), counted in
  // enqueue_failed{reason="queue_full"}; after begin_drain() it always enqueues.
  // Without the queue: send now, retrying in the caller. Every failure is returned to the
  // caller, which counts it (a processor's drop, a receiver's refusal): send_failed does not.
  component::Status consume(model::Batch&& batch) override;
  // The graph is about to stop its receivers and flush its processors (shutdown or reload).
  // From now on consume() never waits and never refuses for a full queue: it enqueues past
  // queue_size (what still arrives is bounded: receivers are stopping, processors flush what
  // they hold), and producers blocked by block_on_overflow are woken and enqueue too. The
  // consumers keep sending; shutdown/take_pending work as usual afterwards. Idempotent.
  // Without the queue it changes nothing (consume() sends in the caller's thread).
  void begin_drain();
  // Stops taking new data, sends what is queued until the deadline, then drops the rest
  // (counted: send_failed{reason="shutdown"}) and shuts the sender down.
  void shutdown(component::Deadline deadline);

  // For a config reload: stop the consumers and hand over what is still queued (in order), so
  // the replacement exporter with the same ID sends it. Call instead of the draining part of
  // shutdown; shutdown() afterwards finds an empty queue. From take_pending on, the shared
  // queue_size gauge belongs to the successor: this helper no longer sets it.
  std::deque<model::Batch> take_pending(component::Deadline deadline);
  void adopt_pending(std::deque<model::Batch>&& pending);

  std::size_t queue_size() const;

 private:
  enum class SendResult { kSent, kDropped, kAborted };
  // Who gives up on a batch that fails: the helper (queued batches; counted in send_failed) or
  // the caller it is returned to (queue disabled; counted by the caller).
  enum class FailureOwner { kHelper, kCaller };

  void consumer_loop();
  // Sends with retries; returns when sent, permanently failed, retries exhausted or stopping.
  // Drops are counted here (only when `owner` is kHelper) except kAborted, whose batch the
  // caller either drops (shutdown) or hands back (take_pending). `final_status` (may be null)
  // receives the last failure.
  SendResult send_with_retry(const model::Batch& batch, FailureOwner owner, component::Status* final_status);
  component::Status send_now(model::Batch&& batch);  // the queue-disabled path
  void count_dropped(const model::Batch& batch, std::string_view reason);
  void count_dropped(std::size_t items, std::string_view reason);
  void refuse(std::size_t items, std::string_view reason);
  // With mu_ held. Starts up to n consumer threads; on a thread creation failure the ones
  // already started keep running (the caller decides) and the error is returned.
  component::Status spawn_consumers(int n);
  void set_queue_gauge();  // with mu_ held
  void join_consumers();

  std::string id_;
  model::Signal signal_;
  std::unique_ptr<component::Sender> sender_;
  QueueSettings queue_settings_;
  RetrySettings retry_settings_;
  telemetry::ExporterMetrics metrics_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable stop_cv_;  // wakes retry sleeps on shutdown
  std::condition_variable idle_cv_;  // a consumer exited or a synchronous send finished
  std::deque<model::Batch> queue_;
  bool accepting_ = false;
  bool stopping_ = false;        // consumers finish their current batch and exit
  bool draining_ = false;        // consumers exit once the queue is empty (shutdown)
  bool handing_over_ = false;    // take_pending: aborted batches go back to the queue
  bool abort_retries_ = false;   // deadline passed: retries give up
  bool drain_begun_ = false;     // begin_drain(): the queue takes everything, nobody waits
  bool owns_queue_gauge_ = true; // false once take_pending handed the queue to a successor
  int live_consumers_ = 0;
  int sync_in_flight_ = 0;       // queue disabled: callers inside send_now()
  // Batches popped by consumers are numbered so that take_pending() can put the ones whose
  // retries it aborted back in their original order.
  std::uint64_t pop_seq_ = 0;
  std::vector<std::pair<std::uint64_t, model::Batch>> returned_;
  std::uint64_t seed_ = 0;       // per-batch backoff seeds (under mu_)
  std::vector<std::thread> consumers_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace vigil::runtime
