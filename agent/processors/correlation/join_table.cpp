#include "agent/processors/correlation/join_table.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

#include "agent/telemetry/telemetry.hpp"

namespace vigil::processors::correlation {
namespace {

std::int64_t nanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Design: an entry pool in fixed chunks addressed by 32-bit index, an intrusive doubly linked
// LRU list through the entries, and two chained hash indexes (request ID, trace ID) whose chains
// also run through the entries. The bucket arrays are sized once for max_entries (load factor at
// most 1), so nothing rehashes on the data path; chunks are allocated only while the table grows
// towards max_entries. Expiry needs no timer: touching moves an entry to the LRU head, so the
// entries idle for longest sit at the tail, and each Session pops expired ones from there.

JoinTable::JoinTable(const std::string& id, telemetry::Telemetry& telemetry, Limits limits) : limits_(limits) {
  auto& evictions = telemetry.counter_family("vigil_correlation_join_evictions_total",
                                             "Join table entries removed before use, by reason (capacity, ttl).");
  evicted_capacity_ = &evictions.Add({{"processor", id}, {"reason", "capacity"}});
  evicted_ttl_ = &evictions.Add({{"processor", id}, {"reason", "ttl"}});
  entries_gauge_ = &telemetry.gauge_family("vigil_correlation_join_entries", "Entries in the join table.")
                        .Add({{"processor", id}});
}

void JoinTable::configure(Limits limits) {
  std::lock_guard lock(mu_);
  const bool grow_index = limits.max_entries > limits_.max_entries && !request_buckets_.empty();
  limits_ = limits;
  evict_to(limits_.max_entries);
  if (grow_index) rebuild_index();
  update_gauge();
}

std::size_t JoinTable::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

std::uint32_t JoinTable::hash_request(std::string_view s) {
  const std::size_t h = std::hash<std::string_view>{}(s);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

std::uint32_t JoinTable::hash_trace(const model::TraceId& t) {
  // Trace IDs are random; mixing both halves still guards against IDs that differ in one half.
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, t.data(), 8);
  std::memcpy(&b, t.data() + 8, 8);
  std::uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<std::uint32_t>(h >> 32);
}

std::uint32_t JoinTable::find_request_index(std::string_view s, std::uint32_t hash) {
  if (request_buckets_.empty()) return kNil;
  for (std::uint32_t i = request_buckets_[hash & mask_]; i != kNil; i = at(i).request_next) {
    const Entry& e = at(i);
    if (e.request_hash == hash && e.request_len == s.size() && std::memcmp(e.request_id, s.data(), s.size()) == 0) {
      return i;
    }
  }
  return kNil;
}

std::uint32_t JoinTable::find_trace_index(const model::TraceId& t) {
  if (trace_buckets_.empty()) return kNil;
  for (std::uint32_t i = trace_buckets_[hash_trace(t) & mask_]; i != kNil; i = at(i).trace_next) {
    if (at(i).trace_id == t) return i;
  }
  return kNil;
}

void JoinTable::link_request(std::uint32_t i) {
  Entry& e = at(i);
  std::uint32_t& head = request_buckets_[e.request_hash & mask_];
  e.request_next = head;
  head = i;
}

void JoinTable::unlink_request(std::uint32_t i) {
  Entry& e = at(i);
  std::uint32_t* link = &request_buckets_[e.request_hash & mask_];
  while (*link != kNil && *link != i) link = &at(*link).request_next;
  if (*link == i) *link = e.request_next;
  e.request_next = kNil;
}

void JoinTable::link_trace(std::uint32_t i) {
  Entry& e = at(i);
  std::uint32_t& head = trace_buckets_[hash_trace(e.trace_id) & mask_];
  e.trace_next = head;
  head = i;
}

void JoinTable::unlink_trace(std::uint32_t i) {
  Entry& e = at(i);
  std::uint32_t* link = &trace_buckets_[hash_trace(e.trace_id) & mask_];
  while (*link != kNil && *link != i) link = &at(*link).trace_next;
  if (*link == i) *link = e.trace_next;
  e.trace_next = kNil;
}

void JoinTable::lru_push_front(std::uint32_t i) {
  Entry& e = at(i);
  e.lru_prev = kNil;
  e.lru_next = lru_head_;
  if (lru_head_ != kNil) at(lru_head_).lru_prev = i;
  lru_head_ = i;
  if (lru_tail_ == kNil) lru_tail_ = i;
}

void JoinTable::lru_unlink(std::uint32_t i) {
  Entry& e = at(i);
  if (e.lru_prev != kNil) at(e.lru_prev).lru_next = e.lru_next;
  else lru_head_ = e.lru_next;
  if (e.lru_next != kNil) at(e.lru_next).lru_prev = e.lru_prev;
  else lru_tail_ = e.lru_prev;
  e.lru_prev = e.lru_next = kNil;
}

void JoinTable::touch(std::uint32_t i, std::int64_t now) {
  at(i).touched = now;
  if (lru_head_ == i) return;
  lru_unlink(i);
  lru_push_front(i);
}

void JoinTable::remove(std::uint32_t i) {
  unlink_request(i);
  unlink_trace(i);
  lru_unlink(i);
  at(i).lru_next = free_;
  free_ = i;
  --size_;
}

std::uint32_t JoinTable::allocate() {
  if (limits_.max_entries == 0) return kNil;
  if (request_buckets_.empty()) {
    // Load factor at most 1 for the configured capacity: chains stay short, no rehash later.
    std::size_t buckets = 16;
    while (buckets < limits_.max_entries) buckets <<= 1;
    request_buckets_.assign(buckets, kNil);
    trace_buckets_.assign(buckets, kNil);
    mask_ = static_cast<std::uint32_t>(buckets - 1);
  }
  if (size_ >= limits_.max_entries) {
    if (lru_tail_ == kNil) return kNil;
    remove(lru_tail_);
    ++pending_capacity_evictions_;  // counted once per Session, not once per entry
  }
  if (free_ != kNil) {
    const std::uint32_t i = free_;
    free_ = at(i).lru_next;
    ++size_;
    return i;
  }
  if ((handed_out_ >> kChunkBits) >= chunks_.size()) {
    chunks_.push_back(std::make_unique<Entry[]>(kChunkSize));
  }
  ++size_;
  return handed_out_++;
}

void JoinTable::expire(std::int64_t now) {
  if (limits_.ttl.count() <= 0) return;
  const std::int64_t ttl = limits_.ttl.count();
  std::size_t expired = 0;
  while (lru_tail_ != kNil && now - at(lru_tail_).touched > ttl) {
    remove(lru_tail_);
    ++expired;
  }
  if (expired != 0) evicted_ttl_->Increment(static_cast<double>(expired));
}

void JoinTable::evict_to(std::size_t max) {
  std::size_t evicted = 0;
  while (size_ > max && lru_tail_ != kNil) {
    remove(lru_tail_);
    ++evicted;
  }
  if (evicted != 0) evicted_capacity_->Increment(static_cast<double>(evicted));
}

void JoinTable::rebuild_index() {
  std::size_t buckets = 16;
  while (buckets < limits_.max_entries) buckets <<= 1;
  request_buckets_.assign(buckets, kNil);
  trace_buckets_.assign(buckets, kNil);
  mask_ = static_cast<std::uint32_t>(buckets - 1);
  for (std::uint32_t i = lru_head_; i != kNil; i = at(i).lru_next) {
    link_request(i);
    link_trace(i);
  }
}

JoinTable::Session::Session(JoinTable& table, std::chrono::steady_clock::time_point now)
    : table_(table), lock_(table.mu_), now_(nanos(now)) {
  table_.expire(now_);
}

JoinTable::Session::~Session() {
  if (table_.pending_capacity_evictions_ != 0) {
    table_.evicted_capacity_->Increment(static_cast<double>(table_.pending_capacity_evictions_));
    table_.pending_capacity_evictions_ = 0;
  }
  table_.update_gauge();
  if (changed_) table_.generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool JoinTable::Session::find_request(std::string_view request_id, model::TraceId& trace_id, model::SpanId& span_id,
                                      std::uint8_t& flags) {
  if (request_id.size() > kMaxRequestIdBytes) return false;
  const std::uint32_t i = table_.find_request_index(request_id, hash_request(request_id));
  if (i == kNil) return false;
  table_.touch(i, now_);
  const Entry& e = table_.at(i);
  trace_id = e.trace_id;
  span_id = e.span_id;
  flags = e.flags;
  return true;
}

std::string_view JoinTable::Session::find_trace(const model::TraceId& trace_id) {
  const std::uint32_t i = table_.find_trace_index(trace_id);
  if (i == kNil) return {};
  table_.touch(i, now_);
  const Entry& e = table_.at(i);
  return {e.request_id, e.request_len};
}

bool JoinTable::Session::record(std::string_view request_id, const model::TraceId& trace_id,
                                const model::SpanId& span_id, std::uint8_t flags) {
  if (request_id.empty() || request_id.size() > kMaxRequestIdBytes) return false;
  const std::uint32_t hash = hash_request(request_id);
  std::uint32_t i = table_.find_request_index(request_id, hash);
  if (i != kNil) {
    Entry& e = table_.at(i);
    if (e.trace_id != trace_id) {
      table_.unlink_trace(i);
      e.trace_id = trace_id;
      table_.link_trace(i);
      changed_ = true;
    } else if (e.span_id != span_id || e.flags != flags) {
      changed_ = true;
    }
    e.span_id = span_id;
    e.flags = flags;
    table_.touch(i, now_);
    return true;
  }
  i = table_.allocate();
  if (i == kNil) return false;
  Entry& e = table_.at(i);
  e.trace_id = trace_id;
  e.span_id = span_id;
  e.flags = flags;
  e.request_hash = hash;
  e.request_len = static_cast<std::uint8_t>(request_id.size());
  std::memcpy(e.request_id, request_id.data(), request_id.size());
  e.touched = now_;
  e.request_next = e.trace_next = kNil;
  table_.link_request(i);
  table_.link_trace(i);
  table_.lru_push_front(i);
  changed_ = true;
  return true;
}

void JoinTable::add_waiter(Waiter* waiter) {
  std::lock_guard lock(waiters_mu_);
  waiters_.push_back(waiter);
  waiter_count_.store(waiters_.size(), std::memory_order_release);
}

void JoinTable::remove_waiter(Waiter* waiter) {
  std::lock_guard lock(waiters_mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
  waiter_count_.store(waiters_.size(), std::memory_order_release);
}

void JoinTable::notify() {
  if (waiter_count_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard lock(waiters_mu_);
  for (Waiter* w : waiters_) w->table_changed();
}

}  // namespace vigil::processors::correlation
