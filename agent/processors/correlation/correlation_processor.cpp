#include "agent/processors/correlation/correlation_processor.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <map>
#include <utility>

#include "agent/processors/correlation/extract.hpp"
#include "agent/telemetry/log.hpp"

namespace vigil::processors {

using component::Clock;
using component::Status;
using correlation::JoinTable;
using correlation::TraceContext;
using model::AnyValue;
using model::Arena;
using model::Batch;
using model::ValueType;

// Why a thread of its own for join.wait rather than a timer on the host's io_context: releasing a
// held batch calls the next consumer, which may block (an exporter with block_on_overflow, or one
// that sends in the caller's thread); on the shared io_context that would stall every receiver.
// Joining the thread at shutdown also guarantees nothing runs after the processor is gone. It
// exists only for logs pipelines with join.wait > 0.
//
// Per batch, the work runs in two passes so the shared table is locked once per batch: pass one
// (no lock) extracts trace context and request IDs from each record and notes the table
// operations it needs in a per-thread list; pass two takes the table's lock once and runs them.

namespace {

enum Slot : std::uint8_t { kTraceField, kSpanField, kTraceparent, kXray, kRequestId, kExistingRequestId, kSlots };
constexpr std::uint8_t bit(Slot s) { return static_cast<std::uint8_t>(1u << s); }
constexpr std::uint8_t kTraceSlots = bit(kTraceField) | bit(kSpanField) | bit(kTraceparent) | bit(kXray);

enum Source : std::uint8_t { kSourceOtlp, kSourceField, kSourceTraceparent, kSourceXray, kSourceJoin, kSources };
constexpr std::array<const char*, kSources> kSourceNames{"otlp", "field", "traceparent", "xray", "join"};

enum Invalid : std::uint8_t { kInvalidTraceparent, kInvalidXray, kInvalidTraceIdField, kInvalidSpanIdField, kInvalids };
constexpr std::array<const char*, kInvalids> kInvalidNames{"traceparent", "xray", "trace_id_field", "span_id_field"};

// Where a value was found; an earlier level always wins over a later one.
enum Level : std::uint8_t { kAttributes = 0, kKvlistBody = 1, kJsonBody = 2 };

// The configured field names, one list per slot, matched against attribute and JSON keys.
class FieldMatcher {
 public:
  void add(const std::vector<std::string>& names, Slot slot) {
    for (std::size_t i = 0; i < names.size() && i < 255; ++i) {
      entries_.push_back({names[i], slot, static_cast<std::uint8_t>(i)});
      const std::size_t len = names[i].size();
      if (len < 128) lengths_[len / 64] |= std::uint64_t{1} << (len % 64);
      else long_names_ = true;
    }
  }

  template <class F>
  void match(std::string_view key, std::uint8_t mask, F&& f) const {
    const std::size_t len = key.size();
    if (len < 128 ? (lengths_[len / 64] & (std::uint64_t{1} << (len % 64))) == 0 : !long_names_) return;
    for (const Entry& e : entries_) {
      if ((mask & bit(e.slot)) != 0 && e.name == key) f(e.slot, e.priority);
    }
  }

 private:
  struct Entry {
    std::string name;
    Slot slot;
    std::uint8_t priority;  // index in its list: earlier names win within one level
  };
  std::vector<Entry> entries_;
  std::uint64_t lengths_[2] = {0, 0};
  bool long_names_ = false;
};

// What one record's lookups found, slot by slot.
struct Found {
  bool has[kSlots] = {};
  std::uint8_t level[kSlots] = {};
  std::uint8_t priority[kSlots] = {};
  model::TraceId trace{};
  model::SpanId span{};
  TraceContext traceparent;
  TraceContext xray;
  std::string_view request_id;           // copied into the batch's arena
  std::string_view existing_request_id;  // the record's own attribute (or int_text)
  std::uint32_t invalid[kInvalids] = {};
};

// Per-batch tallies, added to the counters once per batch.
struct Tally {
  std::uint64_t contexts[kSources] = {};
  std::uint64_t invalid[kInvalids] = {};
  std::uint64_t request_hits = 0, request_misses = 0, trace_hits = 0, trace_misses = 0;
  std::uint64_t request_ids_field = 0, request_ids_join = 0;
  std::uint64_t service_attribute = 0, service_default = 0;
  std::uint64_t too_long = 0;
};

// A table operation noted in pass one.
struct Op {
  enum Kind : std::uint8_t { kRecord, kFindRequest, kFindTrace };
  Kind kind;
  bool is_span;
  void* item;  // model::LogRecord* or model::Span*
  std::string_view request_id;
};

void add(prometheus::Counter* c, std::uint64_t n) {
  if (c != nullptr && n != 0) c->Increment(static_cast<double>(n));
}

std::string_view int_text(std::int64_t v, char (&buf)[24]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string_view(buf, static_cast<std::size_t>(end - buf)) : std::string_view();
}

constexpr std::uint32_t kTraceFlagsMask = 0xffu;

}  // namespace

struct CorrelationProcessor::Impl {
  CorrelationProcessor& p;
  FieldMatcher matcher;
  bool logs;
  // Counters (null where the signal has none).
  prometheus::Counter* contexts[kSources] = {};
  prometheus::Counter* invalid[kInvalids] = {};
  prometheus::Counter* request_hit = nullptr;
  prometheus::Counter* request_miss = nullptr;
  prometheus::Counter* trace_hit = nullptr;
  prometheus::Counter* trace_miss = nullptr;
  prometheus::Counter* request_ids_field = nullptr;
  prometheus::Counter* request_ids_join = nullptr;
  prometheus::Counter* service_attribute = nullptr;
  prometheus::Counter* service_default = nullptr;
  prometheus::Counter* too_long = nullptr;
  prometheus::Counter* held = nullptr;
  prometheus::Counter* released_joined = nullptr;
  prometheus::Counter* released_timeout = nullptr;
  prometheus::Counter* released_shutdown = nullptr;
  prometheus::Counter* not_held = nullptr;

  Impl(CorrelationProcessor& proc, telemetry::Telemetry& t) : p(proc), logs(proc.signal_ == model::Signal::kLogs) {
    const CorrelationSettings& s = p.settings_;
    if (logs) {
      matcher.add(s.trace_id_fields, kTraceField);
      matcher.add(s.span_id_fields, kSpanField);
      matcher.add(s.traceparent_fields, kTraceparent);
      matcher.add(s.xray_header_fields, kXray);
    }
    matcher.add(s.request_id_fields, kRequestId);
    matcher.add({s.request_id_attribute}, kExistingRequestId);

    const std::map<std::string, std::string> base{{"processor", p.id_}, {"pipeline", p.pipeline_}};
    auto with = [&](const char* k, const char* v) {
      auto l = base;
      l[k] = v;
      return l;
    };
    if (logs) {
      auto& ctx = t.counter_family("vigil_correlation_trace_contexts_total",
                                   "Log records with a trace context, by where it came from.");
      for (int i = 0; i < kSources; ++i) contexts[i] = &ctx.Add(with("source", kSourceNames[i]));
      auto& inv = t.counter_family("vigil_correlation_invalid_headers_total",
                                   "Trace context values ignored as invalid, by kind.");
      for (int i = 0; i < kInvalids; ++i) invalid[i] = &inv.Add(with("kind", kInvalidNames[i]));
    }
    if (p.table_) {
      auto& lookups = t.counter_family("vigil_correlation_join_lookups_total",
                                       "Join table lookups, by key (request_id, trace_id) and result (hit, miss).");
      auto lk = [&](const char* key, const char* result) {
        auto l = base;
        l["key"] = key;
        l["result"] = result;
        return &lookups.Add(l);
      };
      if (logs) {
        request_hit = lk("request_id", "hit");
        request_miss = lk("request_id", "miss");
        trace_hit = lk("trace_id", "hit");
        trace_miss = lk("trace_id", "miss");
      }
      too_long = &t.counter_family("vigil_correlation_join_skipped_total",
                                   "Request IDs not joined, by reason (request_id_too_long: over 64 bytes).")
                      .Add(with("reason", "request_id_too_long"));
    }
    auto& rids = t.counter_family("vigil_correlation_request_ids_total",
                                  "Request ID attributes set, by source (field, join).");
    request_ids_field = &rids.Add(with("source", "field"));
    if (logs && p.table_) request_ids_join = &rids.Add(with("source", "join"));
    auto& svc = t.counter_family("vigil_correlation_service_names_total",
                                 "Resources given a service.name, by source (attribute, default).");
    service_attribute = &svc.Add(with("source", "attribute"));
    service_default = &svc.Add(with("source", "default"));
    if (logs && p.table_ && p.settings_.join_wait.count() > 0) {
      held = &t.counter_family("vigil_correlation_join_wait_held_records_total",
                               "Log records held by join.wait for spans to arrive.")
                  .Add(base);
      auto& rel = t.counter_family("vigil_correlation_join_wait_released_records_total",
                                   "Held log records sent on, by reason (joined, timeout, shutdown).");
      released_joined = &rel.Add(with("reason", "joined"));
      released_timeout = &rel.Add(with("reason", "timeout"));
      released_shutdown = &rel.Add(with("reason", "shutdown"));
      not_held = &t.counter_family("vigil_correlation_join_wait_not_held_records_total",
                                   "Log records sent at once although join.wait applied, by reason.")
                      .Add(with("reason", "max_pending_batches"));
    }
  }

  // ---- pass one: extraction ----

  static void offer(Found& f, Slot slot, std::uint8_t priority, Level level, const AnyValue& v, Arena& arena,
                    char (&int_buf)[24]) {
    if (f.has[slot] && (f.level[slot] < level || f.priority[slot] <= priority)) return;
    switch (slot) {
      case kTraceField:
        if (!correlation::parse_trace_id_value(v, f.trace)) {
          ++f.invalid[kInvalidTraceIdField];
          return;
        }
        break;
      case kSpanField:
        if (!correlation::parse_span_id_value(v, f.span)) {
          ++f.invalid[kInvalidSpanIdField];
          return;
        }
        break;
      case kTraceparent:
        if (v.type() != ValueType::kString || !correlation::parse_traceparent(v.string_value(), f.traceparent)) {
          ++f.invalid[kInvalidTraceparent];
          return;
        }
        break;
      case kXray:
        if (v.type() != ValueType::kString || !correlation::parse_xray_header(v.string_value(), f.xray)) {
          ++f.invalid[kInvalidXray];
          return;
        }
        break;
      case kRequestId: {
        std::string_view text;
        if (v.type() == ValueType::kString) text = v.string_value();
        else if (v.type() == ValueType::kInt) text = int_text(v.int_value(), int_buf);
        if (text.empty()) return;
        // A string of the record (attribute or map body) already lives in memory this batch owns
        // (a batch's views point only into buffers it keeps alive), so the view is reused. JSON
        // strings live in the parser and an integer's text on the stack: those are copied into
        // the batch's arena.
        f.request_id = (level == kJsonBody || v.type() != ValueType::kString) ? arena.copy(text) : text;
        break;
      }
      case kExistingRequestId: {
        std::string_view text;
        if (v.type() == ValueType::kString) text = v.string_value();
        else if (v.type() == ValueType::kInt) text = int_text(v.int_value(), int_buf);
        if (text.empty()) return;
        // Only read (a join key, until pass two ends); an integer's text needs a home meanwhile.
        f.existing_request_id = v.type() == ValueType::kInt ? arena.copy(text) : text;
        break;
      }
      case kSlots:
        return;
    }
    f.has[slot] = true;
    f.level[slot] = level;
    f.priority[slot] = priority;
  }

  void scan_attributes(const model::Attributes& attrs, std::uint8_t mask, Level level, Found& f, Arena& arena,
                       char (&int_buf)[24]) const {
    for (const model::KeyValue& kv : attrs) {
      matcher.match(kv.key, mask, [&](Slot s, std::uint8_t prio) { offer(f, s, prio, level, kv.value, arena, int_buf); });
    }
  }

  // Slots still worth looking for at a later level.
  static std::uint8_t still_needed(const Found& f, bool need_trace) {
    std::uint8_t mask = 0;
    if (!f.has[kRequestId] && !f.has[kExistingRequestId]) mask |= bit(kRequestId);
    // The field source outranks the headers: until both field IDs are found, a later level may
    // still hold a trace_id field that wins over a traceparent found earlier.
    if (need_trace && !(f.has[kTraceField] && f.has[kSpanField])) mask |= kTraceSlots;
    return mask;
  }

  void extract_log(model::LogRecord& r, Found& f, Arena& arena, char (&int_buf)[24]) const {
    const bool need_trace = model::is_zero(r.trace_id);
    std::uint8_t mask = bit(kRequestId) | bit(kExistingRequestId) | (need_trace ? kTraceSlots : 0);
    scan_attributes(r.attributes, mask, kAttributes, f, arena, int_buf);
    bool fields_in_attributes = false;  // a parser already split this record's line
    for (bool h : f.has) fields_in_attributes = fields_in_attributes || h;
    for (std::uint32_t n : f.invalid) fields_in_attributes = fields_in_attributes || n != 0;
    mask = still_needed(f, need_trace);
    if (mask != 0 && r.body.type() == ValueType::kKvList) {
      const model::KeyValue* items = r.body.kvlist_begin();
      for (std::uint32_t i = 0; i < r.body.size(); ++i) {
        matcher.match(items[i].key, mask,
                      [&](Slot s, std::uint8_t prio) { offer(f, s, prio, kKvlistBody, items[i].value, arena, int_buf); });
      }
      mask = still_needed(f, need_trace);
    }
    const auto json_body = p.settings_.json_body;
    const bool read_json = json_body == CorrelationSettings::JsonBody::kAlways ||
                           (json_body == CorrelationSettings::JsonBody::kAuto && !fields_in_attributes);
    if (mask != 0 && read_json && r.body.type() == ValueType::kString &&
        correlation::looks_like_json_object(r.body.string_value())) {
      Found staged = f;  // committed only when the whole body parses
      auto visit = [&](std::string_view key, const correlation::JsonScalar& value) {
        const AnyValue v = value.kind == correlation::JsonScalar::Kind::kInt ? AnyValue::integer(value.integer)
                                                                             : AnyValue::string(value.text);
        matcher.match(key, mask, [&](Slot s, std::uint8_t prio) { offer(staged, s, prio, kJsonBody, v, arena, int_buf); });
      };
      if (correlation::scan_json_object(r.body.string_value(), visit)) f = staged;
    }
  }

  // Applies the first source that has a trace ID; returns it (or kSources for none).
  static Source apply_trace_context(model::LogRecord& r, const Found& f) {
    if (!model::is_zero(r.trace_id)) return kSourceOtlp;
    const TraceContext* ctx = nullptr;
    Source source = kSources;
    if (f.has[kTraceField]) {
      r.trace_id = f.trace;
      r.span_id = f.has[kSpanField] ? f.span : model::SpanId{};
      return kSourceField;
    }
    if (f.has[kTraceparent]) {
      ctx = &f.traceparent;
      source = kSourceTraceparent;
    } else if (f.has[kXray]) {
      ctx = &f.xray;
      source = kSourceXray;
    } else {
      return kSources;
    }
    r.trace_id = ctx->trace_id;
    r.span_id = ctx->span_id;
    if (ctx->has_flags) r.flags = (r.flags & ~kTraceFlagsMask) | (ctx->sampled ? 1u : 0u);
    return source;
  }

  // The attribute key, copied into the batch's arena on first use.
  struct BatchKeys {
    std::string_view request_id_attribute;
    std::string_view service_name;
    std::string_view service_default;
  };

  std::string_view request_key(Arena& arena, BatchKeys& keys) const {
    if (keys.request_id_attribute.empty()) keys.request_id_attribute = arena.copy(p.settings_.request_id_attribute);
    return keys.request_id_attribute;
  }

  void service_name(model::Resource& res, Arena& arena, BatchKeys& keys, Tally& tally) const {
    if (model::find_attribute(res.attributes, "service.name") != nullptr) return;
    std::string_view value;
    bool from_attribute = false;
    for (const std::string& name : p.settings_.service_name_from_attributes) {
      const AnyValue* v = model::find_attribute(res.attributes, name);
      if (v != nullptr && v->type() == ValueType::kString && v->size() != 0) {
        value = arena.copy(v->string_value());
        from_attribute = true;
        break;
      }
    }
    if (!from_attribute) {
      if (p.settings_.service_name_default.empty()) return;
      if (keys.service_default.empty()) keys.service_default = arena.copy(p.settings_.service_name_default);
      value = keys.service_default;
    }
    if (keys.service_name.empty()) keys.service_name = arena.copy("service.name");
    res.attributes.push_back(arena, model::KeyValue{keys.service_name, AnyValue::string(value)});
    ++(from_attribute ? tally.service_attribute : tally.service_default);
  }

  // Notes the table operation a record needs.
  void note(std::vector<Op>& ops, bool is_span, void* item, std::string_view request_id, bool has_trace,
            Tally& tally) const {
    if (!p.table_) return;
    if (request_id.size() > JoinTable::kMaxRequestIdBytes) {
      // Neither recorded nor looked up: the table stores request IDs inline.
      ++tally.too_long;
      return;
    }
    if (!request_id.empty() && has_trace) {
      ops.push_back({Op::kRecord, is_span, item, request_id});
    } else if (!request_id.empty() && !is_span) {
      ops.push_back({Op::kFindRequest, false, item, request_id});
    } else if (request_id.empty() && has_trace && !is_span) {
      ops.push_back({Op::kFindTrace, false, item, {}});
    }
  }

  void pass_one(Batch& batch, std::vector<Op>& ops, Tally& tally) const {
    Arena& arena = batch.arena();
    BatchKeys keys;
    char int_buf[24];
    if (logs) {
      for (model::ResourceLogs& rl : batch.resource_logs()) {
        service_name(rl.resource, arena, keys, tally);
        for (model::ScopeLogs& sl : rl.scope_logs) {
          for (model::LogRecord& r : sl.log_records) {
            Found f;
            extract_log(r, f, arena, int_buf);
            for (int i = 0; i < kInvalids; ++i) tally.invalid[i] += f.invalid[i];
            const Source source = apply_trace_context(r, f);
            if (source != kSources) ++tally.contexts[source];
            std::string_view request_id = f.existing_request_id;
            if (!f.has[kExistingRequestId] && f.has[kRequestId]) {
              request_id = f.request_id;
              r.attributes.push_back(arena, model::KeyValue{request_key(arena, keys), AnyValue::string(request_id)});
              ++tally.request_ids_field;
            }
            note(ops, false, &r, request_id, source != kSources, tally);
          }
        }
      }
      return;
    }
    for (model::ResourceSpans& rs : batch.resource_spans()) {
      service_name(rs.resource, arena, keys, tally);
      for (model::ScopeSpans& ss : rs.scope_spans) {
        for (model::Span& s : ss.spans) {
          Found f;
          scan_attributes(s.attributes, bit(kRequestId) | bit(kExistingRequestId), kAttributes, f, arena, int_buf);
          std::string_view request_id = f.existing_request_id;
          if (!f.has[kExistingRequestId] && f.has[kRequestId]) {
            request_id = f.request_id;
            s.attributes.push_back(arena, model::KeyValue{request_key(arena, keys), AnyValue::string(request_id)});
            ++tally.request_ids_field;
          }
          note(ops, true, &s, request_id, !model::is_zero(s.trace_id), tally);
        }
      }
    }
  }

  // ---- pass two: the table, locked once ----

  // Returns true when the batch added or changed entries; `generation` is the table's
  // generation as seen inside the session.
  bool pass_two(Batch& batch, const std::vector<Op>& ops, std::vector<Pending>* misses, Tally& tally,
                std::uint64_t& generation) const {
    Arena& arena = batch.arena();
    BatchKeys keys;
    bool changed = false;
    {
      JoinTable::Session session(*p.table_, p.settings_.clock());
      for (const Op& op : ops) {
        switch (op.kind) {
          case Op::kRecord: {
            if (op.is_span) {
              const auto* s = static_cast<const model::Span*>(op.item);
              changed |= session.record(op.request_id, s->trace_id, s->span_id,
                                        static_cast<std::uint8_t>(s->flags & kTraceFlagsMask));
            } else {
              const auto* r = static_cast<const model::LogRecord*>(op.item);
              changed |= session.record(op.request_id, r->trace_id, r->span_id,
                                        static_cast<std::uint8_t>(r->flags & kTraceFlagsMask));
            }
            break;
          }
          case Op::kFindRequest: {
            auto* r = static_cast<model::LogRecord*>(op.item);
            std::uint8_t flags = 0;
            if (session.find_request(op.request_id, r->trace_id, r->span_id, flags)) {
              r->flags = (r->flags & ~kTraceFlagsMask) | flags;
              ++tally.request_hits;
              ++tally.contexts[kSourceJoin];
            } else {
              ++tally.request_misses;
              if (misses != nullptr) misses->push_back({r, op.request_id});
            }
            break;
          }
          case Op::kFindTrace: {
            auto* r = static_cast<model::LogRecord*>(op.item);
            const std::string_view request_id = session.find_trace(r->trace_id);
            if (request_id.empty()) {
              ++tally.trace_misses;
              break;
            }
            ++tally.trace_hits;
            ++tally.request_ids_join;
            // The table's bytes change after the session: the copy goes into the batch's arena.
            r->attributes.push_back(arena,
                                    model::KeyValue{request_key(arena, keys), AnyValue::string(arena.copy(request_id))});
            break;
          }
        }
      }
      // Read under the lock: a change after this point bumps it (our own change too, which
      // costs at most one needless re-check of a held batch).
      generation = p.table_->generation();
    }
    return changed;
  }

  // Looks up the still-missing request IDs of a held batch again; true when none is left.
  static bool rejoin(Held& held, JoinTable::Session& session, Tally& tally) {
    auto& pending = held.pending;
    for (std::size_t i = 0; i < pending.size();) {
      model::LogRecord& r = *pending[i].record;
      std::uint8_t flags = 0;
      if (session.find_request(pending[i].request_id, r.trace_id, r.span_id, flags)) {
        r.flags = (r.flags & ~kTraceFlagsMask) | flags;
        ++tally.request_hits;
        ++tally.contexts[kSourceJoin];
        pending[i] = pending.back();
        pending.pop_back();
      } else {
        ++tally.request_misses;
        ++i;
      }
    }
    return pending.empty();
  }

  void count(const Tally& t) const {
    for (int i = 0; i < kSources; ++i) add(contexts[i], t.contexts[i]);
    for (int i = 0; i < kInvalids; ++i) add(invalid[i], t.invalid[i]);
    add(request_hit, t.request_hits);
    add(request_miss, t.request_misses);
    add(trace_hit, t.trace_hits);
    add(trace_miss, t.trace_misses);
    add(request_ids_field, t.request_ids_field);
    add(request_ids_join, t.request_ids_join);
    add(service_attribute, t.service_attribute);
    add(service_default, t.service_default);
    add(too_long, t.too_long);
  }
};

namespace {

std::size_t non_negative(std::int64_t v) { return v < 0 ? 0 : static_cast<std::size_t>(v); }

}  // namespace

CorrelationSettings read_correlation_settings(const config::Settings& s) {
  CorrelationSettings out;
  out.trace_id_fields = s.get_string_list("trace_id_fields");
  out.span_id_fields = s.get_string_list("span_id_fields");
  out.traceparent_fields = s.get_string_list("traceparent_fields");
  out.xray_header_fields = s.get_string_list("xray_header_fields");
  out.request_id_fields = s.get_string_list("request_id_fields");
  out.request_id_attribute = s.get_string("request_id_attribute");
  const std::string json_body = s.get_string("json_body");
  out.json_body = json_body == "always"  ? CorrelationSettings::JsonBody::kAlways
                  : json_body == "never" ? CorrelationSettings::JsonBody::kNever
                                         : CorrelationSettings::JsonBody::kAuto;
  out.join_max_entries = non_negative(s.get_int("join.max_entries"));
  out.join_ttl = s.get_duration("join.ttl");
  out.join_wait = s.get_duration("join.wait");
  out.join_max_pending_batches = non_negative(s.get_int("join.max_pending_batches"));
  out.service_name_from_attributes = s.get_string_list("service_name.from_attributes");
  out.service_name_default = s.get_string("service_name.default");
  return out;
}

CorrelationProcessor::CorrelationProcessor(std::string id, model::Signal signal, std::string pipeline,
                                           component::Consumer& next, CorrelationSettings settings,
                                           telemetry::Telemetry& telemetry)
    : id_(std::move(id)),
      signal_(signal),
      pipeline_(std::move(pipeline)),
      next_(next),
      settings_(std::move(settings)),
      metrics_(telemetry.processor(id_, signal, pipeline_)) {
  if (settings_.join_max_entries > 0) {
    const JoinTable::Limits limits{settings_.join_max_entries, settings_.join_ttl};
    table_ = telemetry.shared_state().get<JoinTable>(
        "correlation/" + id_, [&] { return std::make_shared<JoinTable>(id_, telemetry, limits); });
    table_->configure(limits);  // a reload may have changed them
  }
  impl_ = std::make_unique<Impl>(*this, telemetry);
}

CorrelationProcessor::~CorrelationProcessor() { shutdown(Clock::now()); }

Status CorrelationProcessor::start(component::Host&) {
  std::lock_guard lock(mu_);
  if (stopped_ || thread_.joinable() || signal_ != model::Signal::kLogs || !table_ ||
      settings_.join_wait.count() <= 0) {
    return Status::ok();
  }
  try {
    thread_ = std::thread([this] { release_loop(); });
  } catch (const std::exception& e) {
    const std::string message = std::string("cannot start thread: ") + e.what();
    telemetry::log(telemetry::Level::kError, id_, message);
    return Status::permanent(message);
  }
  table_->add_waiter(this);
  waiting_registered_ = true;
  return Status::ok();
}

std::size_t CorrelationProcessor::held_batches() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

Status CorrelationProcessor::consume(Batch&& batch) {
  if (batch.signal() != signal_) return next_.consume(std::move(batch));
  // Reused per thread: no allocation per batch once they have grown.
  thread_local std::vector<Op> ops;
  thread_local std::vector<Pending> misses;
  ops.clear();
  misses.clear();
  Tally tally;
  impl_->pass_one(batch, ops, tally);
  const bool may_hold = impl_->held != nullptr;
  std::uint64_t generation = 0;
  bool changed = false;
  if (table_ && !ops.empty()) changed = impl_->pass_two(batch, ops, may_hold ? &misses : nullptr, tally, generation);
  impl_->count(tally);
  // New entries may complete a batch that a logs pipeline of this ID holds.
  if (changed) table_->notify();
  if (may_hold && !misses.empty()) {
    std::unique_lock lock(mu_);
    if (!stopped_ && thread_.joinable()) {
      if (held_.size() >= settings_.join_max_pending_batches) {
        lock.unlock();
        add(impl_->not_held, batch.item_count());
        return next_.consume(std::move(batch));
      }
      add(impl_->held, batch.item_count());
      held_.push_back(Held{std::move(batch), Clock::now() + settings_.join_wait, {misses.begin(), misses.end()}});
      // A span batch that changed the table after our lookups notified nobody about this batch.
      if (table_->generation() != generation) changed_ = true;
      cv_.notify_one();
      return Status::ok();
    }
  }
  return next_.consume(std::move(batch));
}

void CorrelationProcessor::table_changed() {
  std::lock_guard lock(mu_);
  changed_ = true;
  cv_.notify_one();
}

void CorrelationProcessor::release_loop() {
  std::vector<Batch> out;
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (held_.empty()) {
      cv_.wait(lock, [&] { return stopped_ || !held_.empty(); });
      continue;
    }
    if (!changed_ && Clock::now() < held_.front().deadline) {
      const Clock::time_point deadline = held_.front().deadline;
      cv_.wait_until(lock, deadline, [&] { return stopped_ || changed_; });
      continue;
    }
    std::uint64_t joined = 0;
    std::uint64_t timed_out = 0;
    Tally tally;
    {
      // One table lock for every held batch.
      JoinTable::Session session(*table_, settings_.clock());
      if (std::exchange(changed_, false)) {
        for (auto it = held_.begin(); it != held_.end();) {
          if (Impl::rejoin(*it, session, tally)) {
            joined += it->batch.item_count();
            out.push_back(std::move(it->batch));
            it = held_.erase(it);
          } else {
            ++it;
          }
        }
      }
      // Deadlines were set in arrival order under this lock: the front is always the earliest.
      const Clock::time_point now = Clock::now();
      while (!held_.empty() && held_.front().deadline <= now) {
        Impl::rejoin(held_.front(), session, tally);  // a last look: a notification may be on its way
        timed_out += held_.front().batch.item_count();
        out.push_back(std::move(held_.front().batch));
        held_.pop_front();
      }
    }
    impl_->count(tally);
    add(impl_->released_joined, joined);
    add(impl_->released_timeout, timed_out);
    if (out.empty()) continue;
    lock.unlock();
    emit(out);
    lock.lock();
  }
}

void CorrelationProcessor::emit(std::vector<Batch>& batches) {
  for (Batch& b : batches) {
    const std::size_t items = b.item_count();
    Status s = next_.consume(std::move(b));
    if (s.is_ok()) continue;
    // Ok was answered when the batch was held: nobody upstream can retry it now.
    const char* reason = s.is_permanent() ? "permanent" : "refused_downstream";
    metrics_.dropped(reason).Increment(static_cast<double>(items));
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/" + pipeline_ + "/" + reason, id_,
                           "dropped " + std::to_string(items) + " " + std::string(model::signal_item_name(signal_)) +
                               " held by join.wait, refused by the next consumer: " + s.message());
  }
  batches.clear();
}

void CorrelationProcessor::shutdown(component::Deadline) {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (waiting_registered_) {
    table_->remove_waiter(this);
    waiting_registered_ = false;
  }
  std::vector<Batch> out;
  std::uint64_t records = 0;
  Tally tally;
  {
    std::lock_guard lock(mu_);
    if (!held_.empty()) {
      JoinTable::Session session(*table_, settings_.clock());
      for (Held& h : held_) {
        Impl::rejoin(h, session, tally);
        records += h.batch.item_count();
        out.push_back(std::move(h.batch));
      }
    }
    held_.clear();
  }
  impl_->count(tally);
  add(impl_->released_shutdown, records);
  emit(out);
}

component::Factory correlation_processor_factory() {
  component::Factory f;
  f.kind = component::Kind::kProcessor;
  f.type = "correlation";
  f.description =
      "Trace context and request IDs onto log records and spans, joined across the logs and traces pipelines.";
  f.signals = {model::Signal::kTraces, model::Signal::kLogs};
  auto list = [](std::string name, std::string def, std::string help) {
    config::Option o = config::opt_string_list(std::move(name), std::move(help));
    o.default_value = std::move(def);  // comma-separated (see Settings::get_string_list)
    return o;
  };
  f.schema = {
      list("trace_id_fields", "trace_id,traceId,trace.id,otel.trace_id",
           "Attributes / body fields holding a trace ID (32 hex digits, any case, or 16 bytes)."),
      list("span_id_fields", "span_id,spanId,span.id,otel.span_id",
           "Attributes / body fields holding a span ID (16 hex digits, any case, or 8 bytes)."),
      list("traceparent_fields", "traceparent", "Attributes / body fields holding a W3C traceparent header."),
      list("xray_header_fields", "X-Amzn-Trace-Id,x-amzn-trace-id",
           "Attributes / body fields holding an AWS X-Amzn-Trace-Id header."),
      list("request_id_fields", "request_id,requestId,x-request-id,correlation_id,correlationId",
           "Attributes / body fields holding a request ID (a string, or an integer written as text)."),
      config::opt_string("request_id_attribute", "correlation.id",
                         "Attribute that receives the request ID on log records and spans."),
      config::opt_string("json_body", "auto",
                         "When a string body that looks like a JSON object is read for the fields: auto (only "
                         "when the attributes hold none of the fields), always, never.",
                         {"auto", "always", "never"}),
      config::opt_object(
          "join", "The request ID <-> trace table shared by the logs and traces pipelines of this processor.",
          {
              config::opt_int("max_entries", 100000,
                              "Entries in the table; the least recently used is evicted at capacity. 0: no join.",
                              0, 100000000),
              config::opt_duration("ttl", "5m", "An entry not used for this long is removed. 0: never.", 0.0),
              config::opt_duration("wait", "0",
                                   "How long a log batch whose request IDs have no span yet is held for one. "
                                   "0: never held.",
                                   0.0, 600.0),
              config::opt_int("max_pending_batches", 1000,
                              "Held log batches (per pipeline); beyond it a batch is sent at once.", 1, 1000000),
          }),
      config::opt_object("service_name", "service.name for resources that have none.",
                         {
                             list("from_attributes", "k8s.container.name",
                                  "Resource attributes to copy service.name from, first present wins."),
                             config::opt_string("default", "", "service.name when none of from_attributes is "
                                                               "present. Empty: leave it unset."),
                         }),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    if (s.get_string("request_id_attribute").empty()) {
      errors.push_back({s.location("request_id_attribute"), id, "'request_id_attribute' must not be empty"});
    }
    for (const char* path : {"trace_id_fields", "span_id_fields", "traceparent_fields", "xray_header_fields",
                             "request_id_fields", "service_name.from_attributes"}) {
      for (const std::string& name : s.get_string_list(path)) {
        if (name.empty()) {
          errors.push_back({s.location(path), id, "'" + std::string(path) + "' must not contain an empty name"});
          break;
        }
      }
    }
  };
  f.create_processor = [](const component::CreateSettings& cs, model::Signal signal, component::Consumer& next) {
    return std::make_unique<CorrelationProcessor>(cs.id, signal, cs.pipeline, next,
                                                  read_correlation_settings(cs.settings), cs.telemetry);
  };
  return f;
}

}  // namespace vigil::processors
