#pragma once
// The correlation processor's join table: request ID <-> (trace ID, span ID, sampled flag),
// bounded by entry count (least recently used evicted) and by idle time (ttl).
//
// Ownership: one table per correlation component ID, held through SharedState by every
// processor instance of that ID (the logs and traces pipelines, and the instances of a new config
// during a reload). Entries live in chunks allocated as the table fills (never more than
// max_entries) and are reused from a free list, so steady-state operations never allocate.
// Thread-safety: every operation runs inside a Session, which holds the table's one mutex; a
// processor opens one Session per batch. Waiter registration and notify() may be called from any
// thread without a Session.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "agent/model/common.hpp"

namespace vigil::telemetry {
class Telemetry;
}

namespace vigil::processors::correlation {

class JoinTable {
 public:
  // Request IDs longer than this are not stored (the caller counts them).
  static constexpr std::size_t kMaxRequestIdBytes = 64;

  struct Limits {
    std::size_t max_entries = 100000;
    std::chrono::nanoseconds ttl = std::chrono::minutes(5);  // 0: entries never expire by time
  };

  // Told when entries were added or changed (a held log batch may now join).
  class Waiter {
   public:
    virtual ~Waiter() = default;
    // Called without the table's lock, from the thread that changed the table. Must be quick.
    virtual void table_changed() = 0;
  };

  // `id` labels the table's metrics (`processor`).
  JoinTable(const std::string& id, telemetry::Telemetry& telemetry, Limits limits);
  JoinTable(const JoinTable&) = delete;
  JoinTable& operator=(const JoinTable&) = delete;

  // New limits (a reload); evicts down to the new capacity at once.
  void configure(Limits limits);

  class Session {
   public:
    // Locks the table and expires entries idle for longer than ttl as of `now`.
    Session(JoinTable& table, std::chrono::steady_clock::time_point now);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // The entry for `request_id`; touches it. False on a miss.
    bool find_request(std::string_view request_id, model::TraceId& trace_id, model::SpanId& span_id,
                      std::uint8_t& flags);
    // The request ID of the most recently recorded entry with `trace_id`; touches it. The view
    // is valid until the Session ends. Empty on a miss.
    std::string_view find_trace(const model::TraceId& trace_id);
    // Records request_id -> (trace_id, span_id, flags), replacing what the request ID had.
    // False when the request ID is longer than kMaxRequestIdBytes or the table has no capacity.
    bool record(std::string_view request_id, const model::TraceId& trace_id, const model::SpanId& span_id,
                std::uint8_t flags);

   private:
    JoinTable& table_;
    std::unique_lock<std::mutex> lock_;
    std::int64_t now_;
    bool changed_ = false;
  };

  std::size_t size() const;

  // Bumped by every Session that added or changed an entry.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  void add_waiter(Waiter* waiter);
  // After it returns, `waiter` is never called again.
  void remove_waiter(Waiter* waiter);
  // Tells every waiter; cheap when there is none.
  void notify();

 private:
  static constexpr std::uint32_t kNil = 0xffffffffu;
  static constexpr std::size_t kChunkBits = 10;  // 1024 entries per chunk
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;

  struct Entry {
    model::TraceId trace_id{};
    model::SpanId span_id{};
    std::int64_t touched = 0;  // ns on the session clock
    std::uint32_t request_hash = 0;
    std::uint32_t lru_prev = kNil;  // towards the most recent
    std::uint32_t lru_next = kNil;  // towards the least recent; the free list when free
    std::uint32_t request_next = kNil;
    std::uint32_t trace_next = kNil;
    std::uint8_t request_len = 0;
    std::uint8_t flags = 0;
    char request_id[kMaxRequestIdBytes];
  };

  Entry& at(std::uint32_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  static std::uint32_t hash_request(std::string_view s);
  static std::uint32_t hash_trace(const model::TraceId& t);

  std::uint32_t find_request_index(std::string_view s, std::uint32_t hash);
  std::uint32_t find_trace_index(const model::TraceId& t);
  void link_request(std::uint32_t i);
  void unlink_request(std::uint32_t i);
  void link_trace(std::uint32_t i);
  void unlink_trace(std::uint32_t i);
  void lru_push_front(std::uint32_t i);
  void lru_unlink(std::uint32_t i);
  void touch(std::uint32_t i, std::int64_t now);
  void remove(std::uint32_t i);  // out of every list, onto the free list
  std::uint32_t allocate();      // kNil when at capacity
  void expire(std::int64_t now);
  void evict_to(std::size_t max);  // with mu_ held
  void rebuild_index();            // with mu_ held
  void update_gauge() { entries_gauge_->Set(static_cast<double>(size_)); }

  mutable std::mutex mu_;
  Limits limits_;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::uint32_t handed_out_ = 0;  // slots ever taken from the chunks
  std::uint32_t free_ = kNil;
  std::size_t size_ = 0;
  std::uint32_t lru_head_ = kNil;  // most recently touched
  std::uint32_t lru_tail_ = kNil;  // least recently touched
  std::vector<std::uint32_t> request_buckets_;
  std::vector<std::uint32_t> trace_buckets_;
  std::uint32_t mask_ = 0;
  std::atomic<std::uint64_t> generation_{0};
  std::size_t pending_capacity_evictions_ = 0;

  prometheus::Counter* evicted_capacity_ = nullptr;
  prometheus::Counter* evicted_ttl_ = nullptr;
  prometheus::Gauge* entries_gauge_ = nullptr;

  std::mutex waiters_mu_;
  std::vector<Waiter*> waiters_;
  std::atomic<std::size_t> waiter_count_{0};
};

}  // namespace vigil::processors::correlation
