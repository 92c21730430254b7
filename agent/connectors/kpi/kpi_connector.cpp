#include "agent/connectors/kpi/kpi_connector.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <thread>

#include "agent/connectors/kpi/kpi_config.hpp"
#include "agent/connectors/kpi/kpi_state.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::connectors {
namespace {

using component::Clock;
using component::Status;
using model::Batch;
using model::Signal;
using namespace kpi;

// Why a thread per instance rather than a timer on the host's io_context: emitting calls the
// next consumer, which may block (a full exporter queue with block_on_overflow); on the shared
// io_context that would stall every receiver. The threads of one ID's instances all wait for
// the same due time kept in the shared state, and emit-if-due under its lock, so one batch goes
// out per interval.

constexpr std::string_view kScopeName = "vigil.kpi";

std::uint64_t system_now_unix_nano() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// The text of an OTTL value used as a label value; false when there is none.
bool ottl_value_text(const ottl::Value& v, NumberText& buf, std::string_view& out) {
  switch (v.type) {
    case ottl::Type::kString:
      out = v.s;
      return true;
    case ottl::Type::kBool:
      out = v.b ? "true" : "false";
      return true;
    case ottl::Type::kInt:
    case ottl::Type::kTime: {
      auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v.i);
      if (ec != std::errc()) return false;
      out = std::string_view(buf.data(), static_cast<std::size_t>(ptr - buf.data()));
      return true;
    }
    case ottl::Type::kDouble: {
      auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v.d);
      if (ec != std::errc()) return false;
      out = std::string_view(buf.data(), static_cast<std::size_t>(ptr - buf.data()));
      return true;
    }
    default:
      return false;
  }
}

// A 32- or 16-hex-digit ID written by an application into an attribute (JSON logs: `trace_id`).
template <std::size_t N>
bool parse_hex_id(const model::Attributes& attrs, std::string_view key, std::array<std::uint8_t, N>& out) {
  const model::AnyValue* v = model::find_attribute(attrs, key);
  if (v == nullptr || v->type() != model::ValueType::kString) return false;
  const std::string_view s = v->string_value();
  if (s.size() != 2 * N) return false;
  std::array<std::uint8_t, N> id{};
  for (std::size_t i = 0; i < N; ++i) {
    auto [ptr, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, id[i], 16);
    if (ec != std::errc() || ptr != s.data() + 2 * i + 2) return false;
  }
  out = id;
  return true;
}

enum FailReason : std::size_t { kEvaluationError, kNotANumber, kNegativeIncrement, kFailReasons };
constexpr std::array<const char*, kFailReasons> kFailReasonNames = {"evaluation_error", "not_a_number",
                                                                    "negative_increment"};

// A rule as this instance runs it: its store, its self-metrics and the counts of the batch
// being read (accumulated under the state lock, added to the counters once per batch).
struct RuleRun {
  const Rule* rule = nullptr;
  const MetricDef* def = nullptr;
  MetricStore* store = nullptr;
  prometheus::Counter* evaluated = nullptr;
  prometheus::Counter* matched = nullptr;
  std::array<prometheus::Counter*, kFailReasons> failed{};
  std::array<prometheus::Counter*, kMaxLabels> label_overflows{};
  prometheus::Counter* series_overflows = nullptr;

  // The rule's `where` can only hold when attribute guard_keys_[guard] is one of these (see
  // ottl::AttributeGuard); -1: no guard.
  int guard = -1;
  std::vector<std::string> guard_values;
  bool guard_exact = false;  // `where` is the guard: once it holds, `where` need not run

  std::uint64_t n_evaluated = 0;
  std::uint64_t n_matched = 0;
  std::array<std::uint64_t, kFailReasons> n_failed{};
  std::array<std::uint64_t, kMaxLabels> n_label_overflows{};
  std::uint64_t n_series_overflows = 0;
};

// What one record offers besides the OTTL view of it.
struct RecordInfo {
  ottl::Record record;
  const model::Attributes* attributes = nullptr;
  std::uint64_t time_unix_nano = 0;
  model::TraceId trace_id{};
  model::SpanId span_id{};
  bool ids_resolved = false;
};

class KpiConnector : public component::Connector {
 public:
  KpiConnector(std::string id, Signal in, component::Consumer& next, std::unique_ptr<KpiConfig> config,
               telemetry::Telemetry& telemetry)
      : id_(std::move(id)), in_(in), next_(next), config_(std::move(config)) {
    state_ = telemetry.shared_state().get<KpiState>("kpi/" + id_, [] { return std::make_shared<KpiState>(); });
    const Source source = in_ == Signal::kLogs ? Source::kLogs : Source::kSpans;
    const std::map<std::string, std::string> base{{"connector", id_}};
    auto labels = [&](std::initializer_list<std::pair<const std::string, std::string>> more) {
      std::map<std::string, std::string> l = base;
      l.insert(more);
      return l;
    };
    auto& evaluated = telemetry.counter_family("vigil_kpi_records_evaluated_total",
                                               "Records a rule evaluated (its source signal).");
    auto& matched = telemetry.counter_family("vigil_kpi_records_matched_total", "Records that matched a rule's where.");
    auto& failed = telemetry.counter_family(
        "vigil_kpi_records_failed_total",
        "Matching records a rule could not apply, by reason (evaluation_error, not_a_number, negative_increment).");
    auto& label_overflows = telemetry.counter_family(
        "vigil_kpi_label_overflows_total", "Label values past max_values, folded into 'other', by rule and label.");
    auto& series_overflows = telemetry.counter_family(
        "vigil_kpi_series_overflows_total", "Updates of new label sets past max_series, folded into the 'other' series.");
    auto& series = telemetry.gauge_family("vigil_kpi_series", "Series a KPI metric holds.");
    auto& emitted_batches = telemetry.counter_family("vigil_kpi_emitted_batches_total", "Metric batches emitted.");
    auto& emitted_points = telemetry.counter_family("vigil_kpi_emitted_points_total", "Metric points emitted.");
    auto& emit_failures = telemetry.counter_family(
        "vigil_kpi_emit_failures_total", "Emitted batches the next consumer refused, by reason (retryable, permanent).");
    emitted_batches_ = &emitted_batches.Add(base);
    emitted_points_ = &emitted_points.Add(base);
    emit_retryable_ = &emit_failures.Add(labels({{"reason", "retryable"}}));
    emit_permanent_ = &emit_failures.Add(labels({{"reason", "permanent"}}));
    resource_overflows_.fill(nullptr);
    for (std::size_t i = 0; i < config_->resource_attributes.size(); ++i) {
      resource_overflows_[i] =
          &label_overflows.Add(labels({{"rule", "resource"}, {"label", config_->resource_attributes[i]}}));
    }

    const std::uint64_t now = system_now_unix_nano();
    std::lock_guard lock(state_->mu);
    groups_ = state_->groups_for(config_->resource_attributes);
    for (const MetricDef& def : config_->metrics) {
      stores_.push_back(state_->store_for(def, config_->resource_attributes, now));
      series_gauges_.push_back(&series.Add(labels({{"rule", def.name}})));
    }
    for (const Rule& rule : config_->rules) {
      if (rule.source != source) continue;
      RuleRun& run = runs_.emplace_back();
      run.rule = &rule;
      run.def = &config_->metrics[rule.metric_index];
      run.store = stores_[rule.metric_index].get();
      run.evaluated = &evaluated.Add(labels({{"rule", rule.self_name}}));
      run.matched = &matched.Add(labels({{"rule", rule.self_name}}));
      for (std::size_t r = 0; r < kFailReasons; ++r) {
        run.failed[r] = &failed.Add(labels({{"rule", rule.self_name}, {"reason", kFailReasonNames[r]}}));
      }
      for (std::size_t l = 0; l < rule.labels.size(); ++l) {
        run.label_overflows[l] = &label_overflows.Add(labels({{"rule", rule.self_name}, {"label", rule.labels[l].name}}));
      }
      run.series_overflows = &series_overflows.Add(labels({{"rule", rule.self_name}}));
      if (rule.where) {
        if (auto g = rule.where->attribute_guard()) {
          auto it = std::find(guard_keys_.begin(), guard_keys_.end(), g->key);
          if (it == guard_keys_.end()) it = guard_keys_.insert(guard_keys_.end(), g->key);
          run.guard = static_cast<int>(it - guard_keys_.begin());
          run.guard_values = std::move(g->values);
          run.guard_exact = g->exact;
        }
      }
    }
  }

  ~KpiConnector() override { shutdown(Clock::now()); }

  Status start(component::Host&) override {
    std::lock_guard lock(timer_mu_);
    if (stopped_ || started_) return Status::ok();
    try {
      timer_ = std::thread([this] { timer_loop(); });
    } catch (const std::exception& e) {
      const std::string message = std::string("cannot start thread: ") + e.what();
      telemetry::log(telemetry::Level::kError, id_, message);
      return Status::permanent(message);
    }
    started_ = true;
    ++state_->running;
    return Status::ok();
  }

  void shutdown(component::Deadline) override {
    bool was_started = false;
    {
      std::lock_guard lock(timer_mu_);
      if (stopped_) return;
      stopped_ = true;
      was_started = started_;
    }
    timer_cv_.notify_all();
    if (timer_.joinable()) timer_.join();
    // The last running instance of the state emits what was counted since the last interval;
    // a reload's next graph carries on from the same values anyway.
    if (was_started && state_->running.fetch_sub(1) == 1) emit(true);
  }

  Status consume(Batch&& batch) override {
    if (batch.signal() != in_ || runs_.empty()) return Status::ok();
    ottl::EvalState eval;
    eval.now_unix_nano = static_cast<std::int64_t>(system_now_unix_nano());
    std::array<std::uint64_t, kMaxResourceAttributes> resource_overflows{};
    std::lock_guard lock(state_->mu);
    if (in_ == Signal::kLogs) {
      for (const model::ResourceLogs& rl : batch.resource_logs()) {
        const std::uint32_t group = groups_->group_of(rl.resource, resource_overflows);
        for (const model::ScopeLogs& sl : rl.scope_logs) {
          for (const model::LogRecord& log : sl.log_records) {
            RecordInfo info;
            info.record = {&rl.resource, &sl.scope, &log, nullptr};
            info.attributes = &log.attributes;
            info.time_unix_nano = log.time_unix_nano != 0 ? log.time_unix_nano : log.observed_time_unix_nano;
            apply_all(info, group, eval);
          }
        }
      }
    } else {
      for (const model::ResourceSpans& rs : batch.resource_spans()) {
        const std::uint32_t group = groups_->group_of(rs.resource, resource_overflows);
        for (const model::ScopeSpans& ss : rs.scope_spans) {
          for (const model::Span& span : ss.spans) {
            RecordInfo info;
            info.record = {&rs.resource, &ss.scope, nullptr, &span};
            info.attributes = &span.attributes;
            info.time_unix_nano = span.end_time_unix_nano != 0 ? span.end_time_unix_nano : span.start_time_unix_nano;
            apply_all(info, group, eval);
          }
        }
      }
    }
    flush_counts(resource_overflows);
    return Status::ok();
  }

  bool mutates_data() const override { return false; }

 private:
  // Resolves the record's trace and span IDs for an exemplar (only when one is wanted).
  static void resolve_ids(RecordInfo& info) {
    if (info.ids_resolved) return;
    info.ids_resolved = true;
    if (info.record.span != nullptr) {
      info.trace_id = info.record.span->trace_id;
      info.span_id = info.record.span->span_id;
      return;
    }
    info.trace_id = info.record.log->trace_id;
    info.span_id = info.record.log->span_id;
    // A JSON log line that carries its IDs as fields (see README: the event schema).
    if (model::is_zero(info.trace_id)) parse_hex_id(*info.attributes, "trace_id", info.trace_id);
    if (model::is_zero(info.span_id)) parse_hex_id(*info.attributes, "span_id", info.span_id);
  }

  // The interned value of label `i` of the run's rule for this record, or kAbsent.
  std::uint32_t label_value(RuleRun& run, std::size_t i, const RecordInfo& info, ottl::EvalState& eval) {
    const LabelRule& label = run.rule->labels[i];
    NumberText buf;
    std::string_view text;
    bool found = false;
    if (label.short_form) {
      const model::AnyValue* v = model::find_attribute(*info.attributes, label.name);
      if (v == nullptr || v->empty()) v = model::find_attribute(info.record.resource->attributes, label.name);
      found = v != nullptr && any_value_text(*v, buf, text);
    } else {
      for (const LabelCase& c : label.cases) {
        // A case whose condition cannot be evaluated does not match; the record still counts.
        if (c.where->test(info.record, eval)) {
          text = c.value;
          found = true;
          break;
        }
      }
      if (!found && label.from) found = ottl_value_text(label.from->evaluate(info.record, eval), buf, text);
      if (!found && label.default_value) {
        text = *label.default_value;
        found = true;
      }
    }
    eval.failed = false;  // a label that fails is absent or its default, not a failed record
    if (!found) return Interner::kAbsent;
    bool overflow = false;
    const std::uint32_t id = run.store->label(i).intern(text, overflow);
    if (overflow) ++run.n_label_overflows[i];
    return id;
  }

  // Every rule on one record. A rule whose guard attribute (looked up once per record for all the
  // rules that share it) has none of the guard's values cannot match: it counts as evaluated
  // without running its condition, which would only say false.
  void apply_all(RecordInfo& info, std::uint32_t group, ottl::EvalState& eval) {
    std::array<std::string_view, kMaxGuards> guard_text;
    std::array<bool, kMaxGuards> guard_string{};
    const std::size_t guards = std::min(guard_keys_.size(), kMaxGuards);
    for (std::size_t g = 0; g < guards; ++g) {
      const model::AnyValue* v = model::find_attribute(*info.attributes, guard_keys_[g]);
      // OTTL reads bytes values as strings, so a bytes value can equal a string literal too.
      guard_string[g] = v != nullptr && (v->type() == model::ValueType::kString || v->type() == model::ValueType::kBytes);
      if (guard_string[g]) guard_text[g] = v->string_value();
    }
    for (RuleRun& run : runs_) {
      if (run.guard >= 0 && static_cast<std::size_t>(run.guard) < guards) {
        const auto g = static_cast<std::size_t>(run.guard);
        bool possible = false;
        if (guard_string[g]) {
          const std::string_view text = guard_text[g];
          for (const std::string& value : run.guard_values) {
            // Length and first byte first: most values differ there, and memcmp is a call.
            if (value.size() == text.size() && (text.empty() || value[0] == text[0]) && value == text) {
              possible = true;
              break;
            }
          }
        }
        if (!possible) {
          ++run.n_evaluated;
          continue;
        }
        apply(run, info, group, eval, run.guard_exact);
        continue;
      }
      apply(run, info, group, eval, false);
    }
  }

  // `matched`: the rule's guard already decided that `where` holds.
  void apply(RuleRun& run, RecordInfo& info, std::uint32_t group, ottl::EvalState& eval, bool matched) {
    const Rule& rule = *run.rule;
    ++run.n_evaluated;
    eval.reset_record();
    if (!matched && rule.where && !rule.where->test(info.record, eval)) {
      if (eval.failed) ++run.n_failed[kEvaluationError];
      return;
    }
    if (eval.failed) {
      ++run.n_failed[kEvaluationError];
      return;
    }
    ++run.n_matched;
    double x = 1;
    if (rule.value) {
      const ottl::Value v = rule.value->evaluate(info.record, eval);
      if (eval.failed) {
        ++run.n_failed[kEvaluationError];
        return;
      }
      if (v.is_nil()) return;  // absent: the record does not count, and it is not a failure
      if (!v.is_number() || !std::isfinite(v.as_double())) {
        ++run.n_failed[kNotANumber];
        return;
      }
      x = v.as_double();
      if (run.def->kind == MetricKind::kCounter && x < 0) {
        ++run.n_failed[kNegativeIncrement];
        return;
      }
    }
    SeriesKey key;
    key.group = group;
    key.labels.fill(Interner::kAbsent);
    for (std::size_t i = 0; i < rule.labels.size(); ++i) key.labels[i] = label_value(run, i, info, eval);
    bool overflowed = false;
    Series& s = run.store->find_or_add(key, overflowed);
    if (overflowed) ++run.n_series_overflows;
    switch (run.def->kind) {
      case MetricKind::kCounter:
        if (run.def->int_sum) {
          ++s.int_sum;
        } else {
          s.sum += x;
        }
        break;
      case MetricKind::kGauge:
        s.last = x;
        break;
      case MetricKind::kHistogram: {
        const auto& bounds = run.def->bounds;
        // OTLP explicit buckets: bucket i holds (bounds[i-1], bounds[i]]; the last is (bounds.back(), +inf).
        const std::size_t b = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), x) - bounds.begin());
        ++s.buckets[b];
        s.min = s.count == 0 ? x : std::min(s.min, x);
        s.max = s.count == 0 ? x : std::max(s.max, x);
        ++s.count;
        s.sum += x;
        break;
      }
    }
    if (rule.exemplars) {
      resolve_ids(info);
      if (!model::is_zero(info.trace_id)) {
        s.has_exemplar = true;
        s.trace_id = info.trace_id;
        s.span_id = info.span_id;
        s.exemplar_time_unix_nano = info.time_unix_nano != 0 ? info.time_unix_nano
                                                              : static_cast<std::uint64_t>(eval.now_unix_nano);
        s.exemplar_value = x;
      }
    }
  }

  // With the state lock held: the batch's counts into the self-metrics.
  void flush_counts(const std::array<std::uint64_t, kMaxResourceAttributes>& resource_overflows) {
    for (RuleRun& run : runs_) {
      if (run.n_evaluated != 0) run.evaluated->Increment(static_cast<double>(run.n_evaluated));
      if (run.n_matched != 0) run.matched->Increment(static_cast<double>(run.n_matched));
      for (std::size_t r = 0; r < kFailReasons; ++r) {
        if (run.n_failed[r] != 0) run.failed[r]->Increment(static_cast<double>(run.n_failed[r]));
      }
      for (std::size_t l = 0; l < run.rule->labels.size(); ++l) {
        if (run.n_label_overflows[l] != 0) run.label_overflows[l]->Increment(static_cast<double>(run.n_label_overflows[l]));
      }
      if (run.n_series_overflows != 0) run.series_overflows->Increment(static_cast<double>(run.n_series_overflows));
      run.n_evaluated = run.n_matched = run.n_series_overflows = 0;
      run.n_failed.fill(0);
      run.n_label_overflows.fill(0);
      series_gauges_[run.rule->metric_index]->Set(static_cast<double>(run.store->series().size()));
    }
    for (std::size_t i = 0; i < config_->resource_attributes.size(); ++i) {
      if (resource_overflows[i] != 0) resource_overflows_[i]->Increment(static_cast<double>(resource_overflows[i]));
    }
  }

  void timer_loop() {
    const auto interval = std::chrono::duration_cast<Clock::duration>(config_->interval);
    std::unique_lock lock(timer_mu_);
    while (!stopped_) {
      const Clock::time_point due = Clock::time_point(Clock::duration(state_->last_emit.load())) + interval;
      if (Clock::now() < due) {
        timer_cv_.wait_until(lock, due);
        continue;  // re-check: stopped, or another instance emitted meanwhile
      }
      lock.unlock();
      emit(false);
      lock.lock();
    }
  }

  // Emits every series of every configured metric when due (or now, when `force`).
  void emit(bool force) {
    std::lock_guard emit_lock(state_->emit_mu);
    Batch out(Signal::kMetrics);
    std::size_t points = 0;
    {
      std::lock_guard lock(state_->mu);
      const auto now = Clock::now();
      const auto interval = std::chrono::duration_cast<Clock::duration>(config_->interval);
      if (!force && now < Clock::time_point(Clock::duration(state_->last_emit.load())) + interval) return;
      state_->last_emit.store(now.time_since_epoch().count());
      points = build(out, system_now_unix_nano());
    }
    if (points == 0) return;
    const Status s = next_.consume(std::move(out));
    if (s.is_ok()) {
      emitted_batches_->Increment();
      emitted_points_->Increment(static_cast<double>(points));
      return;
    }
    // Not retried: the next interval carries the same cumulative values (and newer ones).
    (s.is_permanent() ? emit_permanent_ : emit_retryable_)->Increment();
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/emit", id_,
                           "the metrics pipeline refused " + std::to_string(points) +
                               " KPI points; the next interval sends the cumulative values again: " + s.message());
  }

  // With the state lock held: one ResourceMetrics per resource group, all series of all metrics.
  std::size_t build(Batch& out, std::uint64_t now) {
    model::Arena& a = out.arena();
    // (metric, series) by resource group, metrics in config order.
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> by_group(groups_->size());
    for (std::size_t m = 0; m < stores_.size(); ++m) {
      const auto& series = stores_[m]->series();
      series_gauges_[m]->Set(static_cast<double>(series.size()));
      for (std::size_t i = 0; i < series.size(); ++i) {
        by_group[series[i].key.group].emplace_back(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(i));
      }
    }
    // Strings shared by every point: copied into the batch's arena once.
    std::vector<std::vector<std::string_view>> label_names(config_->metrics.size());
    std::vector<model::ArenaVec<double>> bounds(config_->metrics.size());
    for (std::size_t m = 0; m < config_->metrics.size(); ++m) {
      for (const std::string& l : config_->metrics[m].label_names) label_names[m].push_back(a.copy(l));
      bounds[m].assign(a, config_->metrics[m].bounds.data(), config_->metrics[m].bounds.size());
    }
    const std::string_view scope_name = a.copy(kScopeName);
    std::size_t points = 0;
    for (std::size_t g = 0; g < by_group.size(); ++g) {
      const auto& entries = by_group[g];
      if (entries.empty()) continue;
      model::ResourceMetrics& rm = out.resource_metrics().emplace_back(a);
      const ResourceGroups::Ids& ids = groups_->ids(static_cast<std::uint32_t>(g));
      for (std::size_t i = 0; i < groups_->names().size(); ++i) {
        if (ids[i] == Interner::kAbsent) continue;
        rm.resource.attributes.push_back(
            a, {a.copy(groups_->names()[i]), model::AnyValue::string(a.copy(groups_->value(i, ids[i])))});
      }
      model::ScopeMetrics& sm = rm.scope_metrics.emplace_back(a);
      sm.scope.name = scope_name;
      std::size_t e = 0;
      while (e < entries.size()) {
        const std::uint32_t m = entries[e].first;
        std::size_t end = e;
        while (end < entries.size() && entries[end].first == m) ++end;
        add_metric(a, sm.metrics.emplace_back(a), m, entries, e, end, label_names[m], bounds[m], now);
        points += end - e;
        e = end;
      }
    }
    return points;
  }

  void add_metric(model::Arena& a, model::Metric& metric, std::uint32_t m,
                  const std::vector<std::pair<std::uint32_t, std::uint32_t>>& entries, std::size_t begin,
                  std::size_t end, const std::vector<std::string_view>& label_names,
                  const model::ArenaVec<double>& bounds, std::uint64_t now) {
    const MetricDef& def = config_->metrics[m];
    const MetricStore& store = *stores_[m];
    metric.name = a.copy(def.name);
    metric.description = a.copy(def.description);
    metric.unit = a.copy(def.unit);
    auto attributes = [&](const Series& s) {
      model::Attributes attrs;
      attrs.reserve(a, label_names.size());
      for (std::size_t i = 0; i < label_names.size(); ++i) {
        if (s.key.labels[i] == Interner::kAbsent) continue;
        attrs.push_back(a, {label_names[i], model::AnyValue::string(a.copy(store.label(i).value(s.key.labels[i])))});
      }
      return attrs;
    };
    auto exemplar = [&](const Series& s, model::ArenaVec<model::Exemplar>& out, bool is_int) {
      if (!s.has_exemplar) return;
      model::Exemplar& x = out.emplace_back(a);
      x.time_unix_nano = s.exemplar_time_unix_nano;
      x.trace_id = s.trace_id;
      x.span_id = s.span_id;
      x.is_int = is_int;
      if (is_int) x.as_int = static_cast<std::int64_t>(s.exemplar_value);
      else x.as_double = s.exemplar_value;
    };
    switch (def.kind) {
      case MetricKind::kCounter:
      case MetricKind::kGauge: {
        const bool counter = def.kind == MetricKind::kCounter;
        metric.type = counter ? model::MetricType::kSum : model::MetricType::kGauge;
        if (counter) {
          metric.aggregation_temporality = model::AggregationTemporality::kCumulative;
          metric.is_monotonic = true;
        }
        metric.number_points.reserve(a, end - begin);
        for (std::size_t e = begin; e < end; ++e) {
          const Series& s = store.series()[entries[e].second];
          model::NumberDataPoint& p = metric.number_points.emplace_back(a);
          p.attributes = attributes(s);
          p.start_time_unix_nano = counter ? store.start_time_unix_nano() : 0;
          p.time_unix_nano = now;
          p.is_int = counter && def.int_sum;
          if (p.is_int) p.as_int = s.int_sum;
          else p.as_double = counter ? s.sum : s.last;
          exemplar(s, p.exemplars, p.is_int);
        }
        break;
      }
      case MetricKind::kHistogram: {
        metric.type = model::MetricType::kHistogram;
        metric.aggregation_temporality = model::AggregationTemporality::kCumulative;
        metric.histogram_points.reserve(a, end - begin);
        for (std::size_t e = begin; e < end; ++e) {
          const Series& s = store.series()[entries[e].second];
          model::HistogramDataPoint& p = metric.histogram_points.emplace_back(a);
          p.attributes = attributes(s);
          p.start_time_unix_nano = store.start_time_unix_nano();
          p.time_unix_nano = now;
          p.count = s.count;
          p.sum = s.sum;
          p.bucket_counts.assign(a, s.buckets.data(), s.buckets.size());
          p.explicit_bounds = bounds;
          if (s.count > 0) {
            p.min = s.min;
            p.max = s.max;
          }
          exemplar(s, p.exemplars, false);
        }
        break;
      }
    }
  }

  std::string id_;
  Signal in_;
  component::Consumer& next_;
  std::unique_ptr<KpiConfig> config_;
  std::shared_ptr<KpiState> state_;
  std::shared_ptr<ResourceGroups> groups_;
  std::vector<std::shared_ptr<MetricStore>> stores_;  // by config_->metrics index
  std::vector<RuleRun> runs_;                         // the rules of this instance's input signal
  static constexpr std::size_t kMaxGuards = 8;        // guard attributes looked up per record
  std::vector<std::string> guard_keys_;               // distinct guard attributes of runs_
  std::vector<prometheus::Gauge*> series_gauges_;     // by metric
  std::array<prometheus::Counter*, kMaxResourceAttributes> resource_overflows_{};
  prometheus::Counter* emitted_batches_ = nullptr;
  prometheus::Counter* emitted_points_ = nullptr;
  prometheus::Counter* emit_retryable_ = nullptr;
  prometheus::Counter* emit_permanent_ = nullptr;

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread timer_;
};

}  // namespace

component::Factory kpi_connector_factory() {
  component::Factory f;
  f.kind = component::Kind::kConnector;
  f.type = "kpi";
  f.description = "Business KPIs (counters, gauges, histograms) from rules over log records and spans.";
  f.connector_signals = {{Signal::kLogs, Signal::kMetrics}, {Signal::kTraces, Signal::kMetrics}};
  f.schema = kpi_schema();
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    parse_kpi_config(s, id, errors);
  };
  f.create_connector = [](const component::CreateSettings& cs, Signal in, Signal,
                          component::Consumer& next) -> std::unique_ptr<component::Connector> {
    config::Errors errors;
    auto config = parse_kpi_config(cs.settings, cs.id, errors);
    if (!config) {
      for (const auto& e : errors) telemetry::log(telemetry::Level::kError, cs.id, e.str());
      return nullptr;
    }
    return std::make_unique<KpiConnector>(cs.id, in, next, std::move(config), cs.telemetry);
  };
  return f;
}

}  // namespace vigil::connectors
