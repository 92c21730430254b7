#pragma once
// Batch: the unit that flows through pipelines. One signal, its OTLP-shaped records, and the
// arenas that own their memory.
//
// Ownership: a Batch is move-only and has a single owner; after a consumer takes a Batch the
// caller no longer touches it. A Batch allocates only in its own arena. It may also keep other
// arenas alive (after append() or share()), whose memory it reads but never writes.
// Thread-safety: none; one thread uses a Batch at a time. share() produces a second Batch that
// reads the same records: neither may then mutate records in place (exporters only read).

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/model/logs.hpp"
#include "agent/model/metrics.hpp"
#include "agent/model/traces.hpp"

namespace vigil::model {

enum class Signal : std::uint8_t { kTraces = 0, kMetrics = 1, kLogs = 2 };

std::string_view signal_name(Signal s);             // "traces", "metrics", "logs"
std::string_view signal_item_name(Signal s);        // "spans", "metric_points", "log_records"

class Batch {
 public:
  explicit Batch(Signal signal);
  Batch(Batch&&) noexcept = default;
  Batch& operator=(Batch&&) noexcept = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  Signal signal() const { return signal_; }
  Arena& arena() { return *arena_; }

  // The records. Only the one matching signal() is used.
  ArenaVec<ResourceSpans>& resource_spans() { return resource_spans_; }
  ArenaVec<ResourceMetrics>& resource_metrics() { return resource_metrics_; }
  ArenaVec<ResourceLogs>& resource_logs() { return resource_logs_; }
  const ArenaVec<ResourceSpans>& resource_spans() const { return resource_spans_; }
  const ArenaVec<ResourceMetrics>& resource_metrics() const { return resource_metrics_; }
  const ArenaVec<ResourceLogs>& resource_logs() const { return resource_logs_; }

  // Spans, metric data points or log records.
  std::size_t item_count() const;
  bool empty() const { return item_count() == 0; }
  // Memory held by this batch's arenas (shared arenas are counted by every holder).
  std::size_t memory_bytes() const;

  // Moves other's records to the end of this batch; this batch keeps other's arenas alive.
  // Cost is proportional to the number of resource entries, not records.
  void append(Batch&& other);

  // Removes the first max_items items into a new batch (records copied by value, strings shared).
  // Resource and scope entries are split as needed. Used by the batch processor.
  // Both halves keep every arena alive, so a remainder that is kept and appended to for long
  // (a batch processor's pending data) should be compacted with deep_copy() now and then.
  Batch split_front(std::size_t max_items);

  // A second batch over the same records, for read-only consumers (fan-out to exporters).
  Batch share() const;

  // A full copy into a fresh arena, for a consumer that mutates (fan-out to pipelines).
  Batch deep_copy() const;

 private:
  Signal signal_;
  std::shared_ptr<Arena> arena_;
  std::vector<std::shared_ptr<const Arena>> kept_;
  ArenaVec<ResourceSpans> resource_spans_;
  ArenaVec<ResourceMetrics> resource_metrics_;
  ArenaVec<ResourceLogs> resource_logs_;
};

}  // namespace vigil::model
