#include "agent/model/batch.hpp"

#include <limits>

namespace vigil::model {

std::string_view signal_name(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::string_view signal_item_name(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return "spans";
    case Signal::kMetrics:
      return "metric_points";
    case Signal::kLogs:
      return "log_records";
  }
  return "items";
}

namespace {

// ---- item counts, per level -------------------------------------------------------------------

std::size_t count(const ScopeLogs& s) {
  return s.log_records.size();
}
std::size_t count(const ScopeSpans& s) {
  return s.spans.size();
}
std::size_t count(const Metric& m) {
  return m.point_count();
}
std::size_t count(const ScopeMetrics& s) {
  std::size_t n = 0;
  for (const Metric& m : s.metrics) n += count(m);
  return n;
}
std::size_t count(const ResourceLogs& r) {
  std::size_t n = 0;
  for (const ScopeLogs& s : r.scope_logs) n += count(s);
  return n;
}
std::size_t count(const ResourceSpans& r) {
  std::size_t n = 0;
  for (const ScopeSpans& s : r.scope_spans) n += count(s);
  return n;
}
std::size_t count(const ResourceMetrics& r) {
  std::size_t n = 0;
  for (const ScopeMetrics& s : r.scope_metrics) n += count(s);
  return n;
}

template <class T>
std::size_t count_all(const ArenaVec<T>& v) {
  std::size_t n = 0;
  for (const T& x : v) n += count(x);
  return n;
}

// ---- structural copies (split_front) -------------------------------------------------------------
// Re-homes the arrays of records (and of the entries above them) into `a`, so the new batch owns
// its record structs; strings, attributes and other nested arrays stay shared (kept arenas).

template <class T>
void rehome(ArenaVec<T>& v, Arena& a) {
  ArenaVec<T> fresh;
  fresh.assign(a, v.data(), v.size());
  v = fresh;
}

void copy_structure(ScopeLogs& s, Arena& a) {
  rehome(s.log_records, a);
}
void copy_structure(ScopeSpans& s, Arena& a) {
  rehome(s.spans, a);
}
void copy_structure(Metric& m, Arena& a) {
  rehome(m.number_points, a);
  rehome(m.histogram_points, a);
  rehome(m.exponential_histogram_points, a);
  rehome(m.summary_points, a);
}
void copy_structure(ScopeMetrics& s, Arena& a) {
  rehome(s.metrics, a);
  for (Metric& m : s.metrics) copy_structure(m, a);
}
void copy_structure(ResourceLogs& r, Arena& a) {
  rehome(r.scope_logs, a);
  for (ScopeLogs& s : r.scope_logs) copy_structure(s, a);
}
void copy_structure(ResourceSpans& r, Arena& a) {
  rehome(r.scope_spans, a);
  for (ScopeSpans& s : r.scope_spans) copy_structure(s, a);
}
void copy_structure(ResourceMetrics& r, Arena& a) {
  rehome(r.scope_metrics, a);
  for (ScopeMetrics& s : r.scope_metrics) copy_structure(s, a);
}

// ---- splitting one entry that holds more than `k` items ------------------------------------------
// `head` and `tail` start as copies of the entry. Afterwards head holds the first k items (its
// arrays in `dst`) and tail the rest (views into the existing storage, or new arrays in `src`).

template <class E>
void take_front(ArenaVec<E>& from, ArenaVec<E>& to, Arena& dst, Arena& src, std::size_t& remaining);

template <class T>
void split_leaf(ArenaVec<T>& head, ArenaVec<T>& tail, Arena& dst, std::size_t k) {
  ArenaVec<T> fresh;
  fresh.assign(dst, tail.data(), k);
  head = fresh;
  tail.drop_front(k);
}

void split_entry(ScopeLogs& head, ScopeLogs& tail, Arena& dst, Arena&, std::size_t k) {
  split_leaf(head.log_records, tail.log_records, dst, k);
}
void split_entry(ScopeSpans& head, ScopeSpans& tail, Arena& dst, Arena&, std::size_t k) {
  split_leaf(head.spans, tail.spans, dst, k);
}
void split_entry(Metric& head, Metric& tail, Arena& dst, Arena&, std::size_t k) {
  switch (tail.type) {
    case MetricType::kGauge:
    case MetricType::kSum:
      split_leaf(head.number_points, tail.number_points, dst, k);
      break;
    case MetricType::kHistogram:
      split_leaf(head.histogram_points, tail.histogram_points, dst, k);
      break;
    case MetricType::kExponentialHistogram:
      split_leaf(head.exponential_histogram_points, tail.exponential_histogram_points, dst, k);
      break;
    case MetricType::kSummary:
      split_leaf(head.summary_points, tail.summary_points, dst, k);
      break;
    case MetricType::kEmpty:
      break;
  }
}
void split_entry(ScopeMetrics& head, ScopeMetrics& tail, Arena& dst, Arena& src, std::size_t k) {
  head.metrics = {};
  take_front(tail.metrics, head.metrics, dst, src, k);
}
void split_entry(ResourceLogs& head, ResourceLogs& tail, Arena& dst, Arena& src, std::size_t k) {
  head.scope_logs = {};
  take_front(tail.scope_logs, head.scope_logs, dst, src, k);
}
void split_entry(ResourceSpans& head, ResourceSpans& tail, Arena& dst, Arena& src, std::size_t k) {
  head.scope_spans = {};
  take_front(tail.scope_spans, head.scope_spans, dst, src, k);
}
void split_entry(ResourceMetrics& head, ResourceMetrics& tail, Arena& dst, Arena& src, std::size_t k) {
  head.scope_metrics = {};
  take_front(tail.scope_metrics, head.scope_metrics, dst, src, k);
}

// Moves entries holding the first `remaining` items of `from` to the end of `to` (allocated in
// `dst`), splitting the entry that straddles the boundary. `from` becomes the rest. Existing
// storage is never written: `from` is either a narrowed view or a new array in `src`, because
// that storage may belong to a kept arena or be read by a share() of this batch.
template <class E>
void take_front(ArenaVec<E>& from, ArenaVec<E>& to, Arena& dst, Arena& src, std::size_t& remaining) {
  std::size_t i = 0;
  while (i < from.size() && remaining > 0) {
    std::size_t n = count(from[i]);
    if (n <= remaining) {
      to.push_back(dst, from[i]);
      copy_structure(to.back(), dst);
      remaining -= n;
      ++i;
      continue;
    }
    E head = from[i];
    E tail = from[i];
    split_entry(head, tail, dst, src, remaining);
    to.push_back(dst, head);
    remaining = 0;
    ArenaVec<E> rest;
    rest.reserve(src, from.size() - i);
    rest.push_back(src, tail);
    for (std::size_t j = i + 1; j < from.size(); ++j) rest.push_back(src, from[j]);
    from = rest;
    return;
  }
  from.drop_front(i);
}

// ---- deep copy ----------------------------------------------------------------------------------

class Copier {
 public:
  explicit Copier(Arena& a) : a_(a) {}

  std::string_view str(std::string_view s) { return a_.copy(s); }

  AnyValue value(const AnyValue& v) {
    switch (v.type()) {
      case ValueType::kString:
        return AnyValue::string(str(v.string_value()));
      case ValueType::kBytes:
        return AnyValue::bytes(str(v.string_value()));
      case ValueType::kArray: {
        AnyValue* items = a_.allocate_array<AnyValue>(v.size());
        for (std::uint32_t i = 0; i < v.size(); ++i) new (&items[i]) AnyValue(value(v.array_begin()[i]));
        return AnyValue::array(items, v.size());
      }
      case ValueType::kKvList: {
        KeyValue* items = a_.allocate_array<KeyValue>(v.size());
        for (std::uint32_t i = 0; i < v.size(); ++i) {
          const KeyValue& kv = v.kvlist_begin()[i];
          new (&items[i]) KeyValue{str(kv.key), value(kv.value)};
        }
        return AnyValue::kvlist(items, v.size());
      }
      default:
        return v;  // scalars carry no pointers
    }
  }

  Attributes attrs(const Attributes& in) {
    Attributes out;
    out.reserve(a_, in.size());
    for (const KeyValue& kv : in) out.push_back(a_, KeyValue{str(kv.key), value(kv.value)});
    return out;
  }

  // Copies a vector element by element, then fixes each element's pointers with `fix`.
  template <class T, class Fix>
  ArenaVec<T> vec(const ArenaVec<T>& in, Fix fix) {
    ArenaVec<T> out;
    out.assign(a_, in.data(), in.size());
    for (T& x : out) fix(x);
    return out;
  }
  template <class T>
  ArenaVec<T> plain(const ArenaVec<T>& in) {
    ArenaVec<T> out;
    out.assign(a_, in.data(), in.size());
    return out;
  }

  void resource(Resource& r) { r.attributes = attrs(r.attributes); }
  void scope(InstrumentationScope& s) {
    s.name = str(s.name);
    s.version = str(s.version);
    s.attributes = attrs(s.attributes);
  }

  void fix(LogRecord& r) {
    r.severity_text = str(r.severity_text);
    r.body = value(r.body);
    r.attributes = attrs(r.attributes);
    r.event_name = str(r.event_name);
  }
  void fix(ScopeLogs& s) {
    scope(s.scope);
    s.schema_url = str(s.schema_url);
    s.log_records = vec(s.log_records, [this](LogRecord& r) { fix(r); });
  }
  void fix(ResourceLogs& r) {
    resource(r.resource);
    r.schema_url = str(r.schema_url);
    r.scope_logs = vec(r.scope_logs, [this](ScopeLogs& s) { fix(s); });
  }

  void fix(Span& s) {
    s.trace_state = str(s.trace_state);
    s.name = str(s.name);
    s.attributes = attrs(s.attributes);
    s.events = vec(s.events, [this](SpanEvent& e) {
      e.name = str(e.name);
      e.attributes = attrs(e.attributes);
    });
    s.links = vec(s.links, [this](SpanLink& l) {
      l.trace_state = str(l.trace_state);
      l.attributes = attrs(l.attributes);
    });
    s.status.message = str(s.status.message);
  }
  void fix(ScopeSpans& s) {
    scope(s.scope);
    s.schema_url = str(s.schema_url);
    s.spans = vec(s.spans, [this](Span& x) { fix(x); });
  }
  void fix(ResourceSpans& r) {
    resource(r.resource);
    r.schema_url = str(r.schema_url);
    r.scope_spans = vec(r.scope_spans, [this](ScopeSpans& s) { fix(s); });
  }

  ArenaVec<Exemplar> exemplars(const ArenaVec<Exemplar>& in) {
    return vec(in, [this](Exemplar& e) { e.filtered_attributes = attrs(e.filtered_attributes); });
  }
  void fix(Metric& m) {
    m.name = str(m.name);
    m.description = str(m.description);
    m.unit = str(m.unit);
    m.metadata = attrs(m.metadata);
    m.number_points = vec(m.number_points, [this](NumberDataPoint& p) {
      p.attributes = attrs(p.attributes);
      p.exemplars = exemplars(p.exemplars);
    });
    m.histogram_points = vec(m.histogram_points, [this](HistogramDataPoint& p) {
      p.attributes = attrs(p.attributes);
      p.bucket_counts = plain(p.bucket_counts);
      p.explicit_bounds = plain(p.explicit_bounds);
      p.exemplars = exemplars(p.exemplars);
    });
    m.exponential_histogram_points =
        vec(m.exponential_histogram_points, [this](ExponentialHistogramDataPoint& p) {
          p.attributes = attrs(p.attributes);
          p.positive.bucket_counts = plain(p.positive.bucket_counts);
          p.negative.bucket_counts = plain(p.negative.bucket_counts);
          p.exemplars = exemplars(p.exemplars);
        });
    m.summary_points = vec(m.summary_points, [this](SummaryDataPoint& p) {
      p.attributes = attrs(p.attributes);
      p.quantile_values = plain(p.quantile_values);
    });
  }
  void fix(ScopeMetrics& s) {
    scope(s.scope);
    s.schema_url = str(s.schema_url);
    s.metrics = vec(s.metrics, [this](Metric& m) { fix(m); });
  }
  void fix(ResourceMetrics& r) {
    resource(r.resource);
    r.schema_url = str(r.schema_url);
    r.scope_metrics = vec(r.scope_metrics, [this](ScopeMetrics& s) { fix(s); });
  }

 private:
  Arena& a_;
};

template <class T>
void append_entries(ArenaVec<T>& to, const ArenaVec<T>& from, Arena& arena) {
  if (from.empty()) return;
  to.reserve(arena, to.size() + from.size());
  for (const T& x : from) to.push_back(arena, x);
}

// A header over the same elements whose capacity equals its size, so that growing it later
// reallocates instead of writing into storage that another batch may also grow into.
template <class T>
ArenaVec<T> frozen_view(const ArenaVec<T>& v) {
  ArenaVec<T> out = v;
  out.drop_front(0);
  return out;
}

}  // namespace

Batch::Batch(Signal signal) : signal_(signal), arena_(std::make_shared<Arena>()) {}

std::size_t Batch::item_count() const {
  switch (signal_) {
    case Signal::kTraces:
      return count_all(resource_spans_);
    case Signal::kMetrics:
      return count_all(resource_metrics_);
    case Signal::kLogs:
      return count_all(resource_logs_);
  }
  return 0;
}

std::size_t Batch::memory_bytes() const {
  std::size_t n = arena_ ? arena_->reserved_bytes() : 0;
  for (const auto& a : kept_) n += a->reserved_bytes();
  return n;
}

void Batch::append(Batch&& other) {
  if (&other == this || !other.arena_) return;
  if (!arena_) arena_ = std::make_shared<Arena>();
  // All three vectors, so a (mistaken) mix of signals loses nothing; only signal()'s is read.
  append_entries(resource_spans_, other.resource_spans_, *arena_);
  append_entries(resource_metrics_, other.resource_metrics_, *arena_);
  append_entries(resource_logs_, other.resource_logs_, *arena_);
  kept_.reserve(kept_.size() + 1 + other.kept_.size());
  kept_.push_back(std::move(other.arena_));
  for (auto& a : other.kept_) kept_.push_back(std::move(a));
  other.kept_.clear();
  other.arena_ = std::make_shared<Arena>();
  other.resource_spans_ = {};
  other.resource_metrics_ = {};
  other.resource_logs_ = {};
}

Batch Batch::split_front(std::size_t max_items) {
  Batch front(signal_);
  if (max_items == 0) return front;
  if (!arena_) arena_ = std::make_shared<Arena>();
  front.kept_.reserve(1 + kept_.size());
  front.kept_.push_back(arena_);
  for (const auto& a : kept_) front.kept_.push_back(a);

  // When everything goes, take empty entries along too (the loops stop at the item boundary).
  std::size_t remaining = max_items >= item_count() ? std::numeric_limits<std::size_t>::max() : max_items;
  Arena& dst = *front.arena_;
  switch (signal_) {
    case Signal::kTraces:
      take_front(resource_spans_, front.resource_spans_, dst, *arena_, remaining);
      break;
    case Signal::kMetrics:
      take_front(resource_metrics_, front.resource_metrics_, dst, *arena_, remaining);
      break;
    case Signal::kLogs:
      take_front(resource_logs_, front.resource_logs_, dst, *arena_, remaining);
      break;
  }
  return front;
}

Batch Batch::share() const {
  Batch b(signal_);
  b.kept_.reserve(1 + kept_.size());
  if (arena_) b.kept_.push_back(arena_);
  for (const auto& a : kept_) b.kept_.push_back(a);
  b.resource_spans_ = frozen_view(resource_spans_);
  b.resource_metrics_ = frozen_view(resource_metrics_);
  b.resource_logs_ = frozen_view(resource_logs_);
  return b;
}

AnyValue copy_value(Arena& arena, const AnyValue& value) { return Copier(arena).value(value); }

Attributes copy_attributes(Arena& arena, const Attributes& attributes) { return Copier(arena).attrs(attributes); }

Batch Batch::deep_copy() const {
  Batch b(signal_);
  Copier c(*b.arena_);
  b.resource_spans_ = c.vec(resource_spans_, [&c](ResourceSpans& r) { c.fix(r); });
  b.resource_metrics_ = c.vec(resource_metrics_, [&c](ResourceMetrics& r) { c.fix(r); });
  b.resource_logs_ = c.vec(resource_logs_, [&c](ResourceLogs& r) { c.fix(r); });
  return b;
}

}  // namespace vigil::model
