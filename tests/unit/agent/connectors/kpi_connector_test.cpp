// The kpi connector: config errors with locations, series semantics (counters, gauges,
// histograms, labels, bounds, exemplars), emission (interval, shutdown, reload, refusal), the
// default pack against generated shop events, and no allocation per record.

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/loader.hpp"
#include "agent/config/schema.hpp"
#include "agent/connectors/kpi/kpi_config.hpp"
#include "agent/connectors/kpi/kpi_connector.hpp"
#include "agent/telemetry/telemetry.hpp"

// ---- allocation counting (this executable only) -----------------------------------------------
#include "tests/support/counting_new.hpp"

namespace vigil::testing::kpi_test {
namespace {

using namespace std::chrono_literals;
using component::Status;
using model::AnyValue;
using model::Batch;
using model::Signal;

// ---- config helpers ---------------------------------------------------------------------------

config::Errors config_errors(const std::string& yaml, const std::string& id = "kpi") {
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "test.yaml", errors);
  REQUIRE(errors.empty());
  const component::Factory f = connectors::kpi_connector_factory();
  config::validate(f.schema, &node, config::Location{"test.yaml", 1, 1}, id, errors);
  if (errors.empty()) {
    config::Settings settings(&f.schema, &node, config::Location{"test.yaml", 1, 1});
    f.validate(settings, id, errors);
  }
  return errors;
}

// The first error whose message holds `what`, or nullptr.
const config::Error* find_error(const config::Errors& errors, const std::string& what) {
  for (const auto& e : errors)
    if (e.message.find(what) != std::string::npos) return &e;
  return nullptr;
}

std::string all_messages(const config::Errors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.str() + "\n";
  return out;
}

// ---- fakes --------------------------------------------------------------------------------------

class Host : public component::Host {
 public:
  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }

 private:
  boost::asio::io_context io_;
  telemetry::Telemetry telemetry_;
};

// The metrics pipeline: keeps every batch it is given; answers `answer`.
class Collector : public component::Consumer {
 public:
  Status consume(Batch&& b) override {
    std::lock_guard lock(mu_);
    batches_.push_back(std::move(b));
    return answer;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return batches_.size();
  }
  template <class Fn>
  auto with(Fn fn) {
    std::lock_guard lock(mu_);
    return fn(batches_);
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (count() >= n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return count() >= n;
  }
  Status answer;

 private:
  std::mutex mu_;
  std::vector<Batch> batches_;
};

// A connector built as the graph builds it: schema-validated settings, the factory's validate
// and create_connector.
std::unique_ptr<component::Connector> make_connector(telemetry::Telemetry& t, component::Consumer& next,
                                                     const std::string& yaml, Signal in = Signal::kLogs,
                                                     const std::string& id = "kpi") {
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "test.yaml", errors);
  const component::Factory f = connectors::kpi_connector_factory();
  config::validate(f.schema, &node, config::Location{"test.yaml", 1, 1}, id, errors);
  config::Settings settings(&f.schema, &node, config::Location{"test.yaml", 1, 1});
  if (errors.empty()) f.validate(settings, id, errors);
  INFO(all_messages(errors));
  REQUIRE(errors.empty());
  component::CreateSettings cs{id, settings, t, ""};
  auto c = f.create_connector(cs, in, Signal::kMetrics, next);
  REQUIRE(c != nullptr);
  return c;
}

// ---- input builders -------------------------------------------------------------------------

using V = std::variant<std::string, std::int64_t, double>;
using Attrs = std::vector<std::pair<std::string, V>>;

AnyValue any(model::Arena& a, const V& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return AnyValue::string(a.copy(*s));
  if (const auto* i = std::get_if<std::int64_t>(&v)) return AnyValue::integer(*i);
  return AnyValue::floating(std::get<double>(v));
}

void fill(model::Arena& a, model::Attributes& out, const Attrs& attrs) {
  for (const auto& [k, v] : attrs) out.push_back(a, {a.copy(k), any(a, v)});
}

model::TraceId trace_id(std::uint8_t seed) {
  model::TraceId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + i + 1);
  return id;
}
model::SpanId span_id(std::uint8_t seed) {
  model::SpanId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + 2 * i + 1);
  return id;
}

class Logs {
 public:
  Logs() : b_(Signal::kLogs) {}
  // Starts a new resource (and scope); records go there until the next call.
  Logs& resource(const Attrs& attrs) {
    model::Arena& a = b_.arena();
    auto& rl = b_.resource_logs().emplace_back(a);
    fill(a, rl.resource.attributes, attrs);
    rl.scope_logs.emplace_back(a);
    return *this;
  }
  Logs& log(const Attrs& attrs, std::uint64_t time_unix_nano = 0, model::TraceId tid = {}, model::SpanId sid = {}) {
    if (b_.resource_logs().empty()) resource({});
    model::Arena& a = b_.arena();
    auto& r = b_.resource_logs().back().scope_logs.back().log_records.emplace_back(a);
    fill(a, r.attributes, attrs);
    r.time_unix_nano = time_unix_nano;
    r.observed_time_unix_nano = time_unix_nano;
    r.trace_id = tid;
    r.span_id = sid;
    return *this;
  }
  Batch take() { return std::move(b_); }

 private:
  Batch b_;
};

struct SpanSpec {
  model::SpanKind kind = model::SpanKind::kInternal;
  model::StatusCode status = model::StatusCode::kUnset;
  Attrs attrs;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  model::TraceId trace{};
  model::SpanId span{};
};

class Spans {
 public:
  Spans() : b_(Signal::kTraces) {}
  Spans& resource(const Attrs& attrs) {
    model::Arena& a = b_.arena();
    auto& rs = b_.resource_spans().emplace_back(a);
    fill(a, rs.resource.attributes, attrs);
    rs.scope_spans.emplace_back(a);
    return *this;
  }
  Spans& span(const SpanSpec& spec) {
    if (b_.resource_spans().empty()) resource({});
    model::Arena& a = b_.arena();
    auto& s = b_.resource_spans().back().scope_spans.back().spans.emplace_back(a);
    s.kind = spec.kind;
    s.status.code = spec.status;
    fill(a, s.attributes, spec.attrs);
    s.start_time_unix_nano = spec.start;
    s.end_time_unix_nano = spec.end;
    s.trace_id = spec.trace;
    s.span_id = spec.span;
    s.name = a.copy("op");
    return *this;
  }
  Batch take() { return std::move(b_); }

 private:
  Batch b_;
};

// ---- output readers ---------------------------------------------------------------------------

using Labels = std::map<std::string, std::string>;

struct Point {
  Labels resource;
  std::string scope;
  std::string metric;
  std::string unit;
  model::MetricType type = model::MetricType::kEmpty;
  model::AggregationTemporality temporality = model::AggregationTemporality::kUnspecified;
  bool monotonic = false;
  Labels labels;
  bool is_int = false;
  std::int64_t i = 0;
  double d = 0;
  std::uint64_t start = 0;
  std::uint64_t time = 0;
  std::uint64_t count = 0;
  double sum = 0;
  std::optional<double> min, max;
  std::vector<std::uint64_t> buckets;
  std::vector<double> bounds;
  bool has_exemplar = false;
  model::TraceId exemplar_trace{};
  model::SpanId exemplar_span{};
  double exemplar_value = 0;
};

Labels labels_of(const model::Attributes& attrs) {
  Labels out;
  for (const auto& kv : attrs) out[std::string(kv.key)] = std::string(kv.value.string_value());
  return out;
}

std::vector<Point> points(const Batch& b) {
  std::vector<Point> out;
  for (const auto& rm : b.resource_metrics())
    for (const auto& sm : rm.scope_metrics)
      for (const auto& m : sm.metrics) {
        Point base;
        base.resource = labels_of(rm.resource.attributes);
        base.scope = std::string(sm.scope.name);
        base.metric = std::string(m.name);
        base.unit = std::string(m.unit);
        base.type = m.type;
        base.temporality = m.aggregation_temporality;
        base.monotonic = m.is_monotonic;
        for (const auto& p : m.number_points) {
          Point x = base;
          x.labels = labels_of(p.attributes);
          x.is_int = p.is_int;
          x.i = p.as_int;
          x.d = p.as_double;
          x.start = p.start_time_unix_nano;
          x.time = p.time_unix_nano;
          if (!p.exemplars.empty()) {
            x.has_exemplar = true;
            x.exemplar_trace = p.exemplars[0].trace_id;
            x.exemplar_span = p.exemplars[0].span_id;
            x.exemplar_value = p.exemplars[0].is_int ? static_cast<double>(p.exemplars[0].as_int) : p.exemplars[0].as_double;
          }
          out.push_back(x);
        }
        for (const auto& p : m.histogram_points) {
          Point x = base;
          x.labels = labels_of(p.attributes);
          x.start = p.start_time_unix_nano;
          x.time = p.time_unix_nano;
          x.count = p.count;
          x.sum = p.sum.value_or(0);
          x.min = p.min;
          x.max = p.max;
          x.buckets.assign(p.bucket_counts.begin(), p.bucket_counts.end());
          x.bounds.assign(p.explicit_bounds.begin(), p.explicit_bounds.end());
          if (!p.exemplars.empty()) {
            x.has_exemplar = true;
            x.exemplar_trace = p.exemplars[0].trace_id;
            x.exemplar_value = p.exemplars[0].as_double;
          }
          out.push_back(x);
        }
      }
  return out;
}

const Point* find_point(const std::vector<Point>& ps, const std::string& metric, const Labels& labels) {
  for (const auto& p : ps)
    if (p.metric == metric && p.labels == labels) return &p;
  return nullptr;
}

std::size_t count_metric(const std::vector<Point>& ps, const std::string& metric) {
  return static_cast<std::size_t>(std::count_if(ps.begin(), ps.end(), [&](const Point& p) { return p.metric == metric; }));
}

std::vector<Point> last_points(Collector& c) {
  return c.with([](std::vector<Batch>& bs) { return bs.empty() ? std::vector<Point>{} : points(bs.back()); });
}

// A self-metric's value (counter or gauge) with these labels; -1 when absent.
double self_metric(telemetry::Telemetry& t, const std::string& name, const Labels& labels) {
  for (const auto& family : t.registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      Labels have;
      for (const auto& l : m.label) have[l.name] = l.value;
      bool match = true;
      for (const auto& [k, v] : labels) match = match && have.count(k) != 0 && have[k] == v;
      if (!match || have.size() != labels.size()) continue;
      return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

// Runs `consume` for each batch, then shuts the connector down (which emits once: it is the
// only running instance) and returns the emitted points.
std::vector<Point> run(const std::string& yaml, std::vector<Batch> batches, Signal in = Signal::kLogs,
                       telemetry::Telemetry* telemetry = nullptr) {
  Host host;
  telemetry::Telemetry& t = telemetry != nullptr ? *telemetry : host.telemetry();
  Collector out;
  auto c = make_connector(t, out, yaml, in);
  REQUIRE(c->start(host).is_ok());
  for (auto& b : batches) CHECK(c->consume(std::move(b)).is_ok());
  c->shutdown(component::Clock::now() + 5s);
  REQUIRE(out.count() == 1);
  return last_points(out);
}

constexpr std::uint64_t kT0 = 1'700'000'000'000'000'000ull;  // 2023-11-14T22:13:20Z

// =============================================================================================
// Config
// =============================================================================================

TEST_CASE("config: a valid config, the default pack and user rules, has no errors") {
  const auto errors = config_errors(R"(
interval: 30s
packs: [default]
resource_attributes: [service.name]
rules:
  - name: payments_total
    type: counter
    where: attributes["event"] == "payment.captured"
    value: attributes["amount"]
    labels:
      - currency
      - name: tier
        from: attributes["tier"]
        cases:
          - where: attributes["vip"] == true
            value: vip
        default: standard
        max_values: 10
    exemplars: true
    max_series: 500
)");
  INFO(all_messages(errors));
  CHECK(errors.empty());
}

TEST_CASE("config: the README example is valid") {
  const auto errors = config_errors(R"(
interval: 10s
packs: [default]
rules:
  - name: payments_captured_total
    description: Money captured, in the payment's currency.
    unit: "{EUR}"
    where: attributes["event"] == "payment.captured" and attributes["currency"] == "EUR"
    value: attributes["amount"]
    labels: [payment_method]
  - name: checkout_latency_seconds
    type: histogram
    unit: s
    source: spans
    where: kind == SPAN_KIND_SERVER and IsMatch(attributes["http.route"], "^/checkout")
    value: duration
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    exemplars: true
    labels:
      - name: outcome
        cases:
          - where: status.code == STATUS_CODE_ERROR
            value: error
        default: ok
)");
  INFO(all_messages(errors));
  CHECK(errors.empty());
}

TEST_CASE("config: unknown keys in a rule, a label and a case, with their locations") {
  const auto errors = config_errors(R"(rules:
  - name: orders_total
    colour: red
    labels:
      - name: region
        default: eu
        colur: blue
)");
  const config::Error* e = find_error(errors, "unknown key 'colour'");
  REQUIRE(e != nullptr);
  CHECK(e->location.file == "test.yaml");
  CHECK(e->location.line == 3);
  CHECK(e->location.column == 5);
  CHECK(e->component == "kpi");
  const config::Error* e2 = find_error(errors, "unknown key 'colur'");
  REQUIRE(e2 != nullptr);
  CHECK(e2->location.line == 7);
  CHECK(errors.size() == 2);  // both reported at once
}

TEST_CASE("config: an unknown top-level key is an error (schema)") {
  const auto errors = config_errors("intervals: 10s\n");
  REQUIRE(find_error(errors, "unknown key 'intervals'") != nullptr);
  CHECK(find_error(errors, "unknown key 'intervals'")->location.line == 1);
}

TEST_CASE("config: bad types and values are errors at the value's location") {
  const auto errors = config_errors(R"(rules:
  - name: a_total
    type: summary
  - name: b_total
    source: metrics
  - name: c_total
    exemplars: maybe
  - name: d_total
    max_series: 0
  - name: e_total
    labels: region
  - name: f_total
    labels: [{default: x}]
)");
  INFO(all_messages(errors));
  const config::Error* type = find_error(errors, "'summary' is not one of counter, gauge, histogram");
  REQUIRE(type != nullptr);
  CHECK(type->location.line == 3);
  CHECK(type->location.column == 11);
  REQUIRE(find_error(errors, "'metrics' is not one of logs, spans") != nullptr);
  CHECK(find_error(errors, "'metrics' is not one of logs, spans")->location.line == 5);
  REQUIRE(find_error(errors, "exemplars': expected true or false") != nullptr);
  CHECK(find_error(errors, "exemplars': expected true or false")->location.line == 7);
  REQUIRE(find_error(errors, "max_series': expected a positive integer") != nullptr);
  CHECK(find_error(errors, "max_series': expected a positive integer")->location.line == 9);
  REQUIRE(find_error(errors, "labels': expected a list") != nullptr);
  CHECK(find_error(errors, "labels': expected a list")->location.line == 11);
  REQUIRE(find_error(errors, "missing required option 'name'") != nullptr);
  CHECK(find_error(errors, "missing required option 'name'")->location.line == 13);
  CHECK(errors.size() == 6);
}

TEST_CASE("config: a rule needs a valid name") {
  const auto errors = config_errors(R"(rules:
  - description: no name
  - name: orders-total
  - name: 9lives
  - name: __reserved
)");
  INFO(all_messages(errors));
  const config::Error* missing = find_error(errors, "missing required option 'name'");
  REQUIRE(missing != nullptr);
  CHECK(missing->location.line == 2);
  const config::Error* dash = find_error(errors, "'orders-total' is not a valid metric name");
  REQUIRE(dash != nullptr);
  CHECK(dash->location.line == 3);
  CHECK(dash->location.column == 11);
  CHECK(find_error(errors, "'9lives' is not a valid metric name") != nullptr);
  CHECK(find_error(errors, "'__reserved' is not a valid metric name") != nullptr);
}

TEST_CASE("config: gauges and histograms need a value") {
  const auto errors = config_errors(R"(rules:
  - name: temperature
    type: gauge
  - name: latency_seconds
    type: histogram
)");
  INFO(all_messages(errors));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message.find("a gauge needs a 'value'") != std::string::npos);
  CHECK(errors[0].location.line == 2);
  CHECK(errors[1].message.find("a histogram needs a 'value'") != std::string::npos);
  CHECK(errors[1].location.line == 4);
}

TEST_CASE("config: bad buckets") {
  const auto errors = config_errors(R"(rules:
  - name: a_seconds
    type: histogram
    value: duration
    source: spans
    buckets: [1, 5, 5, 10]
  - name: b_seconds
    type: histogram
    value: duration
    source: spans
    buckets: [1, fast]
  - name: c_total
    buckets: [1, 2]
  - name: d_seconds
    type: histogram
    value: duration
    source: spans
    buckets: []
)");
  INFO(all_messages(errors));
  const config::Error* inc = find_error(errors, "bounds must be strictly increasing (5 follows 5)");
  REQUIRE(inc != nullptr);
  CHECK(inc->location.line == 6);
  CHECK(inc->location.column == 21);
  const config::Error* nan = find_error(errors, "buckets[1]': expected a finite number");
  REQUIRE(nan != nullptr);
  CHECK(nan->location.line == 11);
  const config::Error* counter = find_error(errors, "only histograms have buckets");
  REQUIRE(counter != nullptr);
  CHECK(counter->location.line == 13);
  const config::Error* empty = find_error(errors, "non-empty list");
  REQUIRE(empty != nullptr);
  CHECK(empty->location.line == 18);
}

TEST_CASE("config: unknown pack, and a pack listed twice") {
  const auto errors = config_errors(R"(packs:
  - default
  - ecommerce
  - default
)");
  INFO(all_messages(errors));
  const config::Error* unknown = find_error(errors, "unknown pack 'ecommerce' (known packs: default)");
  REQUIRE(unknown != nullptr);
  CHECK(unknown->location.line == 3);
  CHECK(unknown->location.column == 5);
  const config::Error* twice = find_error(errors, "pack 'default' is listed twice");
  REQUIRE(twice != nullptr);
  CHECK(twice->location.line == 4);
}

TEST_CASE("config: rules sharing a name must agree") {
  const auto errors = config_errors(R"(rules:
  - name: jobs_total
    labels: [queue]
  - name: jobs_total
    labels: [queue, outcome]
  - name: jobs_total
    unit: s
    labels: [queue]
  - name: jobs_total
    type: gauge
    value: attributes["n"]
    labels: [queue]
  - name: jobs_total
    source: spans
    labels: [queue]
)");
  INFO(all_messages(errors));
  REQUIRE(errors.size() == 3);  // the fourth (another source, same shape) is fine
  CHECK(errors[0].location.line == 4);
  CHECK(errors[0].location.column == 11);
  CHECK(errors[0].message.find("test.yaml:2:11") != std::string::npos);
  CHECK(errors[0].message.find("labels [queue, outcome] vs [queue]") != std::string::npos);
  CHECK(errors[1].location.line == 6);
  CHECK(errors[1].message.find("unit 's' vs ''") != std::string::npos);
  CHECK(errors[2].location.line == 9);
  CHECK(errors[2].message.find("type gauge vs counter") != std::string::npos);
}

TEST_CASE("config: label problems") {
  const auto errors = config_errors(R"(rules:
  - name: a_total
    labels: [region, region]
  - name: b_total
    labels: ["bad label"]
  - name: c_total
    labels: [{name: x}]
  - name: d_total
    labels: [l1, l2, l3, l4, l5, l6, l7, l8, l9]
  - name: e_total
    labels:
      - name: tier
        cases: [{value: gold}]
)");
  INFO(all_messages(errors));
  CHECK(find_error(errors, "label 'region' appears twice") != nullptr);
  CHECK(find_error(errors, "'bad label' is not a valid label name") != nullptr);
  const config::Error* empty = find_error(errors, "needs 'from', 'cases' or 'default'");
  REQUIRE(empty != nullptr);
  CHECK(empty->location.line == 7);
  CHECK(find_error(errors, "at most 8 labels") != nullptr);
  const config::Error* no_where = find_error(errors, "missing required option 'where'");
  REQUIRE(no_where != nullptr);
  CHECK(no_where->location.line == 13);
}

TEST_CASE("config: an unsupported OTTL function or path is an error at the expression") {
  const auto errors = config_errors(R"(rules:
  - name: a_total
    where: Frobnicate(attributes["x"])
  - name: b_total
    source: spans
    where: severity_text == "ERROR"
  - name: c_total
    where: attributes["event"] == "ok"
)");
  INFO(all_messages(errors));
  REQUIRE(errors.size() >= 2);
  bool found_a = false;
  bool found_b = false;
  for (const auto& e : errors) {
    if (e.location.line == 3 && e.message.find("Frobnicate") != std::string::npos) found_a = true;
    if (e.location.line == 6 && e.message.find("severity_text") != std::string::npos) found_b = true;
    CHECK(e.location.line != 8);  // the valid rule is not blamed
    CHECK(e.component == "kpi");
  }
  CHECK(found_a);
  CHECK(found_b);
}

TEST_CASE("config: the default pack parses, and each of its names is a valid metric name") {
  const std::string_view text = connectors::kpi::pack_text("default");
  REQUIRE(!text.empty());
  CHECK(connectors::kpi::pack_text("nope").empty());
  config::Errors errors;
  config::Value root = config::parse_yaml(text, "default.yaml", errors);
  REQUIRE(errors.empty());
  const config::Value* rules = root.find("rules");
  REQUIRE(rules != nullptr);
  REQUIRE(rules->is_seq());
  std::vector<std::string> names;
  for (const auto& r : rules->items) {
    const config::Value* n = r.find("name");
    REQUIRE(n != nullptr);
    CHECK(connectors::kpi::valid_metric_name(n->scalar));
    names.push_back(n->scalar);
  }
  for (const char* expected : {"orders_created_total", "orders_failed_total", "webhook_deliveries_total",
                               "webhook_failures_total", "queue_lag_seconds", "queue_jobs_total"}) {
    CHECK(std::find(names.begin(), names.end(), expected) != names.end());
  }
}

// =============================================================================================
// Semantics (no OTTL needed: rules without where/value)
// =============================================================================================

TEST_CASE("counter without where: counts every record, labels from attributes then resource") {
  Logs logs;
  logs.resource({{"service.name", std::string("shop")}, {"region", std::string("eu")}});
  logs.log({{"payment_method", std::string("card")}});
  logs.log({{"payment_method", std::string("card")}, {"region", std::string("us")}});
  logs.log({{"payment_method", std::string("paypal")}});
  logs.log({});  // neither label in the record: region from the resource, payment_method left off
  const auto ps = run(R"(
interval: 1h
rules:
  - name: records_total
    unit: "{record}"
    labels: [payment_method, region]
)",
                      [&] {
                        std::vector<Batch> v;
                        v.push_back(logs.take());
                        return v;
                      }());
  REQUIRE(ps.size() == 4);
  const Point* card_eu = find_point(ps, "records_total", {{"payment_method", "card"}, {"region", "eu"}});
  const Point* card_us = find_point(ps, "records_total", {{"payment_method", "card"}, {"region", "us"}});
  const Point* paypal = find_point(ps, "records_total", {{"payment_method", "paypal"}, {"region", "eu"}});
  const Point* none = find_point(ps, "records_total", {{"region", "eu"}});
  REQUIRE(card_eu != nullptr);
  REQUIRE(card_us != nullptr);
  REQUIRE(paypal != nullptr);
  REQUIRE(none != nullptr);
  CHECK(card_eu->i == 1);
  CHECK(card_us->i == 1);
  CHECK(paypal->i == 1);
  CHECK(none->i == 1);
  // Shape: a cumulative monotonic int Sum, scope vigil.kpi, the resource's listed attributes only.
  CHECK(card_eu->type == model::MetricType::kSum);
  CHECK(card_eu->temporality == model::AggregationTemporality::kCumulative);
  CHECK(card_eu->monotonic);
  CHECK(card_eu->is_int);
  CHECK(card_eu->unit == "{record}");
  CHECK(card_eu->scope == "vigil.kpi");
  CHECK(card_eu->resource == Labels{{"service.name", "shop"}});
  CHECK(card_eu->start != 0);
  CHECK(card_eu->time >= card_eu->start);
}

TEST_CASE("one ResourceMetrics per distinct combination of resource_attributes") {
  Logs logs;
  for (const char* svc : {"checkout", "billing", "checkout"}) {
    logs.resource({{"service.name", std::string(svc)}, {"host.name", std::string(svc) + "-host"}});
    logs.log({});
    logs.log({});
  }
  logs.resource({});  // no service.name: a group without it
  logs.log({});
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, "interval: 1h\nrules: [{name: records_total}]\n");
  REQUIRE(c->start(host).is_ok());
  REQUIRE(c->consume(logs.take()).is_ok());
  c->shutdown(component::Clock::now());
  REQUIRE(out.count() == 1);
  out.with([](std::vector<Batch>& bs) {
    const Batch& b = bs[0];
    REQUIRE(b.resource_metrics().size() == 3);
    std::map<std::string, std::int64_t> by_service;
    for (const auto& rm : b.resource_metrics()) {
      const AnyValue* svc = model::find_attribute(rm.resource.attributes, "service.name");
      CHECK(model::find_attribute(rm.resource.attributes, "host.name") == nullptr);
      REQUIRE(rm.scope_metrics.size() == 1);
      REQUIRE(rm.scope_metrics[0].metrics.size() == 1);
      by_service[svc ? std::string(svc->string_value()) : "-"] = rm.scope_metrics[0].metrics[0].number_points[0].as_int;
    }
    CHECK(by_service == std::map<std::string, std::int64_t>{{"checkout", 4}, {"billing", 2}, {"-", 1}});
  });
}

TEST_CASE("max_values: values past the budget become 'other', counted per rule and label") {
  const std::vector<std::string> customers = {"c1", "c2", "c3", "c4", "c5", "c1", "c6", "c2", "c5"};
  auto batch = [&] {
    Logs logs;
    for (const auto& cst : customers) logs.log({{"customer", cst}});
    std::vector<Batch> v;
    v.push_back(logs.take());
    return v;
  };
  // What a budget of 3 values should give: the first three distinct values keep their own
  // series, every later new value goes to "other".
  std::map<std::string, std::int64_t> expected;
  std::set<std::string> admitted;
  int overflowed = 0;
  for (const auto& cst : customers) {
    if (admitted.count(cst) != 0 || admitted.size() < 3) {
      admitted.insert(cst);
      ++expected[cst];
    } else {
      ++expected["other"];
      ++overflowed;
    }
  }
  Host host;
  const auto limited = run("interval: 1h\nrules: [{name: logins_total, max_values: 3, labels: [customer]}]\n", batch(),
                           Signal::kLogs, &host.telemetry());
  std::map<std::string, std::int64_t> got;
  for (const auto& p : limited) got[p.labels.at("customer")] = p.i;
  CHECK(got == expected);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_label_overflows_total",
                    {{"connector", "kpi"}, {"rule", "logins_total"}, {"label", "customer"}}) == overflowed);
  // The label-level max_values overrides the rule's; the default budget (100) keeps all six.
  const auto per_label = run(
      "interval: 1h\nrules: [{name: logins_total, max_values: 3, labels: [{name: customer, from: "
      "'attributes[\"customer\"]', max_values: 100}]}]\n",
      batch());
  CHECK(per_label.size() == 6);
  const auto unlimited = run("interval: 1h\nrules: [{name: logins_total, labels: [customer]}]\n", batch());
  CHECK(unlimited.size() == 6);
  CHECK(find_point(unlimited, "logins_total", {{"customer", "other"}}) == nullptr);
}

TEST_CASE("max_series: a new label set past the bound folds into the all-'other' series") {
  Host host;
  Logs logs;
  // Label sets in arrival order: (a,x) (a,y) (b,x) (a,x) (c,z) (b,y)
  const std::vector<std::pair<std::string, std::string>> sets = {{"a", "x"}, {"a", "y"}, {"b", "x"},
                                                                 {"a", "x"}, {"c", "z"}, {"b", "y"}};
  std::map<std::pair<std::string, std::string>, std::int64_t> expected;
  std::set<std::pair<std::string, std::string>> admitted;
  int folded = 0;
  for (const auto& s : sets) {
    logs.log({{"k1", s.first}, {"k2", s.second}});
    if (admitted.count(s) != 0 || admitted.size() < 2) {
      admitted.insert(s);
      ++expected[s];
    } else {
      ++expected[{"other", "other"}];
      ++folded;
    }
  }
  std::vector<Batch> batches;
  batches.push_back(logs.take());
  const auto ps = run(R"(
interval: 1h
rules:
  - name: pairs_total
    max_series: 2
    labels: [k1, k2]
)", std::move(batches), Signal::kLogs, &host.telemetry());
  std::map<std::pair<std::string, std::string>, std::int64_t> got;
  for (const auto& p : ps) got[{p.labels.at("k1"), p.labels.at("k2")}] = p.i;
  CHECK(got == expected);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_series_overflows_total", {{"connector", "kpi"}, {"rule", "pairs_total"}}) ==
        folded);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_series", {{"connector", "kpi"}, {"rule", "pairs_total"}}) == 3);
}

TEST_CASE("shutdown of the only running instance emits once; refusals are counted, not retried") {
  Host host;
  Collector out;
  out.answer = Status::retryable("queue full");
  auto c = make_connector(host.telemetry(), out, "interval: 1h\nrules: [{name: records_total}]\n");
  REQUIRE(c->start(host).is_ok());
  Logs logs;
  logs.log({}).log({});
  REQUIRE(c->consume(logs.take()).is_ok());
  std::this_thread::sleep_for(50ms);
  CHECK(out.count() == 0);  // not due for an hour
  c->shutdown(component::Clock::now());
  CHECK(out.count() == 1);
  c->shutdown(component::Clock::now());  // idempotent
  c.reset();
  CHECK(out.count() == 1);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_emit_failures_total", {{"connector", "kpi"}, {"reason", "retryable"}}) == 1);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_emitted_batches_total", {{"connector", "kpi"}}) == 0);
}

TEST_CASE("an instance that never started does not emit at shutdown") {
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, "interval: 1h\nrules: [{name: records_total}]\n");
  Logs logs;
  logs.log({});
  REQUIRE(c->consume(logs.take()).is_ok());
  c->shutdown(component::Clock::now());
  CHECK(out.count() == 0);
}

TEST_CASE("interval: every series is emitted each interval, idle ones too, and never goes backwards") {
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, "interval: 100ms\nrules: [{name: hits_total, labels: [page]}]\n");
  REQUIRE(c->start(host).is_ok());
  Logs first;
  first.log({{"page", std::string("a")}}).log({{"page", std::string("b")}}).log({{"page", std::string("b")}});
  REQUIRE(c->consume(first.take()).is_ok());
  REQUIRE(out.wait_for_count(1));
  const std::size_t seen = out.count();
  Logs second;
  second.log({{"page", std::string("a")}});  // only a; b goes idle
  REQUIRE(c->consume(second.take()).is_ok());
  REQUIRE(out.wait_for_count(seen + 2));
  c->shutdown(component::Clock::now());
  out.with([](std::vector<Batch>& bs) {
    std::int64_t last_a = 0;
    std::int64_t last_b = 0;
    std::uint64_t start = 0;
    for (const Batch& b : bs) {
      const auto ps = points(b);
      const Point* a = find_point(ps, "hits_total", {{"page", "a"}});
      const Point* pb = find_point(ps, "hits_total", {{"page", "b"}});
      REQUIRE(a != nullptr);
      REQUIRE(pb != nullptr);  // idle series are still emitted
      CHECK(a->i >= last_a);
      CHECK(pb->i >= last_b);
      last_a = a->i;
      last_b = pb->i;
      if (start == 0) start = a->start;
      CHECK(a->start == start);  // one start time for the life of the state
      CHECK(pb->start == start);
    }
    CHECK(last_a == 2);
    CHECK(last_b == 2);
  });
}

TEST_CASE("reload: a kept rule carries on (same start time); a changed definition starts fresh; dropped metrics go") {
  Host host;
  telemetry::Telemetry& t = host.telemetry();
  const std::string v1 = "interval: 1h\nrules: [{name: hits_total, labels: [page]}, {name: gone_total}]\n";
  Collector out1;
  auto c1 = make_connector(t, out1, v1);
  REQUIRE(c1->start(host).is_ok());
  Logs l1;
  for (int i = 0; i < 5; ++i) l1.log({{"page", std::string("a")}});
  REQUIRE(c1->consume(l1.take()).is_ok());

  // The new graph is built while the old one runs, then the old one stops, then the new starts.
  const std::string v2 = "interval: 1h\nrules: [{name: hits_total, labels: [page]}, {name: fresh_total, labels: [page]}]\n";
  Collector out2;
  auto c2 = make_connector(t, out2, v2);
  c1->shutdown(component::Clock::now());
  REQUIRE(out1.count() == 1);
  const auto before = last_points(out1);
  c1.reset();
  REQUIRE(c2->start(host).is_ok());
  Logs l2;
  for (int i = 0; i < 3; ++i) l2.log({{"page", std::string("a")}});
  REQUIRE(c2->consume(l2.take()).is_ok());
  c2->shutdown(component::Clock::now());
  REQUIRE(out2.count() == 1);
  const auto after = last_points(out2);

  const Point* hits_before = find_point(before, "hits_total", {{"page", "a"}});
  const Point* hits_after = find_point(after, "hits_total", {{"page", "a"}});
  REQUIRE(hits_before != nullptr);
  REQUIRE(hits_after != nullptr);
  CHECK(hits_before->i == 5);
  CHECK(hits_after->i == 5 + 3);
  CHECK(hits_after->start == hits_before->start);
  CHECK(count_metric(before, "gone_total") == 1);
  CHECK(count_metric(after, "gone_total") == 0);
  const Point* fresh = find_point(after, "fresh_total", {{"page", "a"}});
  REQUIRE(fresh != nullptr);
  CHECK(fresh->i == 3);

  // A changed definition (another label) of the same name: fresh values, a new start time.
  std::this_thread::sleep_for(2ms);
  Collector out3;
  auto c3 = make_connector(t, out3, "interval: 1h\nrules: [{name: hits_total, labels: [page, region]}]\n");
  c2.reset();
  REQUIRE(c3->start(host).is_ok());
  Logs l3;
  l3.log({{"page", std::string("a")}, {"region", std::string("eu")}});
  REQUIRE(c3->consume(l3.take()).is_ok());
  c3->shutdown(component::Clock::now());
  const auto changed = last_points(out3);
  const Point* hits_changed = find_point(changed, "hits_total", {{"page", "a"}, {"region", "eu"}});
  REQUIRE(hits_changed != nullptr);
  CHECK(hits_changed->i == 1);
  CHECK(hits_changed->start > hits_before->start);
}

TEST_CASE("of two instances of one ID, only the last to stop emits at shutdown") {
  Host host;
  Collector out;
  const std::string yaml = R"(
interval: 1h
rules:
  - name: events_total
    source: logs
    labels: [op]
  - name: events_total
    source: spans
    labels: [op]
)";
  auto logs_in = make_connector(host.telemetry(), out, yaml, Signal::kLogs);
  auto traces_in = make_connector(host.telemetry(), out, yaml, Signal::kTraces);
  REQUIRE(logs_in->start(host).is_ok());
  REQUIRE(traces_in->start(host).is_ok());
  Logs l;
  l.log({{"op", std::string("x")}});
  SpanSpec spec;
  spec.attrs = {{"op", std::string("x")}};
  Spans s;
  s.span(spec);
  REQUIRE(logs_in->consume(l.take()).is_ok());
  REQUIRE(traces_in->consume(s.take()).is_ok());
  logs_in->shutdown(component::Clock::now());
  CHECK(out.count() == 0);  // the interval never ticked, and the first to stop does not emit
  traces_in->shutdown(component::Clock::now());
  REQUIRE(out.count() == 1);
  out.with([](std::vector<Batch>& bs) {
    const auto ps = points(bs.back());
    const Point* x = find_point(ps, "events_total", {{"op", "x"}});
    REQUIRE(x != nullptr);
    CHECK(x->i == 2);  // both instances' records, in the one emission
  });
}

TEST_CASE("two instances of one ID (logs and traces) share the series and emit once per interval") {
  Host host;
  Collector out;
  const std::string yaml = R"(
interval: 100ms
rules:
  - name: events_total
    source: logs
    labels: [op]
  - name: events_total
    source: spans
    labels: [op]
)";
  auto logs_in = make_connector(host.telemetry(), out, yaml, Signal::kLogs);
  auto traces_in = make_connector(host.telemetry(), out, yaml, Signal::kTraces);
  REQUIRE(logs_in->start(host).is_ok());
  REQUIRE(traces_in->start(host).is_ok());
  Logs l;
  l.log({{"op", std::string("x")}}).log({{"op", std::string("x")}});
  auto op = [](const char* name) {
    SpanSpec spec;
    spec.attrs = {{"op", std::string(name)}};
    return spec;
  };
  Spans s;
  s.span(op("x")).span(op("x")).span(op("y"));
  REQUIRE(logs_in->consume(l.take()).is_ok());
  REQUIRE(traces_in->consume(s.take()).is_ok());
  // A batch of the wrong signal is read as nothing.
  Spans wrong;
  wrong.span(op("x"));
  REQUIRE(logs_in->consume(wrong.take()).is_ok());
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1000ms);
  logs_in->shutdown(component::Clock::now());
  const std::size_t before_last = out.count();
  traces_in->shutdown(component::Clock::now());
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const std::size_t total = out.count();
  // The last instance to stop emits once more. A tick of its own ticker may fall between the two
  // reads, so this bound is loose; the next test checks the exact count with an interval that
  // never ticks.
  CHECK(total >= before_last + 1);
  CHECK(total <= before_last + 2);
  // One per 100 ms interval plus that last one; two independent tickers would give twice as many.
  CHECK(total >= 3);
  CHECK(static_cast<double>(total) <= elapsed_ms / 100.0 + 2);
  out.with([](std::vector<Batch>& bs) {
    for (std::size_t i = 1; i + 1 < bs.size(); ++i) {
      const auto prev = points(bs[i - 1]);
      const auto cur = points(bs[i]);
      REQUIRE(!prev.empty());
      REQUIRE(!cur.empty());
      CHECK(cur[0].time - prev[0].time >= 80'000'000ull);
    }
    const auto ps = points(bs.back());
    const Point* x = find_point(ps, "events_total", {{"op", "x"}});
    const Point* y = find_point(ps, "events_total", {{"op", "y"}});
    REQUIRE(x != nullptr);
    REQUIRE(y != nullptr);
    CHECK(x->i == 2 + 2);  // logs and spans feed the same series
    CHECK(y->i == 1);
    CHECK(ps.size() == 2);
  });
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_evaluated_total",
                    {{"connector", "kpi"}, {"rule", "events_total/logs"}}) == 2);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_evaluated_total",
                    {{"connector", "kpi"}, {"rule", "events_total/spans"}}) == 3);
}

TEST_CASE("consume from several threads at once loses no increment") {
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, "interval: 20ms\nrules: [{name: hits_total, labels: [worker]}]\n");
  REQUIRE(c->start(host).is_ok());
  constexpr int kThreads = 4;
  constexpr int kBatches = 50;
  constexpr int kRecords = 10;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        Logs logs;
        for (int r = 0; r < kRecords; ++r) logs.log({{"worker", std::string("w") + std::to_string((w + r) % kThreads)}});
        CHECK(c->consume(logs.take()).is_ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  c->shutdown(component::Clock::now());
  const auto ps = last_points(out);
  std::int64_t total = 0;
  for (const auto& p : ps) total += p.i;
  CHECK(ps.size() == kThreads);
  CHECK(total == kThreads * kBatches * kRecords);
}

TEST_CASE("consume returns Ok and leaves the data alone (the connector does not forward input)") {
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, "interval: 1h\nrules: [{name: records_total}]\n");
  CHECK_FALSE(c->mutates_data());
  Logs logs;
  logs.log({});
  CHECK(c->consume(logs.take()).is_ok());
  CHECK(out.count() == 0);
}

TEST_CASE("no heap allocation per record once the label values are known") {
  Host host;
  Collector out;
  auto c = make_connector(host.telemetry(), out, R"(
interval: 1h
rules:
  - name: orders_total
    labels: [payment_method, region]
  - name: orders_by_method_total
    labels:
      - name: method
        default: unknown
  - name: order_amount_total
    where: attributes["event"] == "order.created" and IsMatch(attributes["region"], "^(eu|us)$")
    value: attributes["amount"]
    exemplars: true
    labels:
      - name: size
        cases:
          - where: attributes["amount"] > 100
            value: large
        from: String(Int(attributes["amount"]) / 100)
      - name: region
        from: attributes["region"]
)");
  auto make = [] {
    Logs logs;
    logs.resource({{"service.name", std::string("shop")}});
    for (int i = 0; i < 200; ++i) {
      logs.log({{"event", std::string("order.created")},
                {"payment_method", std::string(i % 3 == 0 ? "card" : i % 3 == 1 ? "paypal" : "invoice")},
                {"region", std::string(i % 2 == 0 ? "eu" : "us")},
                {"amount", 12.5 + i % 120}},
               kT0 + static_cast<std::uint64_t>(i), trace_id(static_cast<std::uint8_t>(i)), span_id(1));
    }
    return logs.take();
  };
  REQUIRE(c->consume(make()).is_ok());  // first sight of each value: interned, series created
  Batch second = make();
  // The counter sees allocations (so a zero below means something).
  long allocations = 0;
  {
    vigil::testing::alloc::Scope counter;
    auto* probe = new std::string(64, 'x');
    REQUIRE(counter.take() >= 1);
    delete probe;
    const Status s = c->consume(std::move(second));
    allocations = counter.value();
    CHECK(s.is_ok());
  }
  CHECK(allocations == 0);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_matched_total", {{"connector", "kpi"}, {"rule", "orders_total"}}) ==
        400);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_matched_total",
                    {{"connector", "kpi"}, {"rule", "order_amount_total"}}) == 400);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_failed_total",
                    {{"connector", "kpi"}, {"rule", "order_amount_total"}, {"reason", "evaluation_error"}}) == 0);
}

// =============================================================================================
// Semantics with OTTL (where, value, from, cases)
// =============================================================================================

std::vector<Batch> one(Batch b) {
  std::vector<Batch> v;
  v.push_back(std::move(b));
  return v;
}

TEST_CASE("where: a counter counts the matching records, per label set") {
  std::mt19937 rng(7);
  const std::vector<std::string> events = {"order.created", "order.failed", "cart.viewed"};
  const std::vector<std::string> methods = {"card", "paypal"};
  std::map<std::string, std::int64_t> expected;
  Logs logs;
  for (int i = 0; i < 120; ++i) {
    const std::string& e = events[rng() % events.size()];
    const std::string& m = methods[rng() % methods.size()];
    logs.log({{"event", e}, {"payment_method", m}});
    if (e == "order.created") ++expected[m];
  }
  Host host;
  const auto ps = run(R"(
interval: 1h
rules:
  - name: orders_created_total
    where: attributes["event"] == "order.created"
    labels: [payment_method]
)", one(logs.take()), Signal::kLogs, &host.telemetry());
  std::map<std::string, std::int64_t> got;
  for (const auto& p : ps) got[p.labels.at("payment_method")] = p.i;
  CHECK(got == expected);
  std::int64_t matched = 0;
  for (const auto& [k, v] : expected) matched += v;
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_evaluated_total", {{"connector", "kpi"}, {"rule", "orders_created_total"}}) == 120);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_matched_total", {{"connector", "kpi"}, {"rule", "orders_created_total"}}) ==
        static_cast<double>(matched));
}

TEST_CASE("labels: cases in order, then from, then default; no value and no default leaves the label off") {
  Logs logs;
  logs.log({{"status", std::int64_t{503}}, {"tier", std::string("gold")}});  // case 1
  logs.log({{"status", std::int64_t{404}}, {"tier", std::string("gold")}});  // case 2
  logs.log({{"status", std::int64_t{200}}, {"tier", std::string("gold")}});  // from (int formatted)
  logs.log({{"tier", std::string("gold")}});                                 // default
  logs.log({{"status", std::int64_t{200}}});                                 // tier: no value, no default
  const auto ps = run(R"(
interval: 1h
rules:
  - name: requests_total
    labels:
      - name: class
        cases:
          - where: attributes["status"] >= 500
            value: server_error
          - where: attributes["status"] >= 400
            value: client_error
          - where: attributes["status"] >= 300
            value: never_reached_for_503
        from: attributes["status"]
        default: none
      - name: tier
        from: attributes["tier"]
)", one(logs.take()));
  REQUIRE(ps.size() == 5);
  CHECK(find_point(ps, "requests_total", {{"class", "server_error"}, {"tier", "gold"}}) != nullptr);
  CHECK(find_point(ps, "requests_total", {{"class", "client_error"}, {"tier", "gold"}}) != nullptr);
  CHECK(find_point(ps, "requests_total", {{"class", "200"}, {"tier", "gold"}}) != nullptr);
  CHECK(find_point(ps, "requests_total", {{"class", "none"}, {"tier", "gold"}}) != nullptr);
  CHECK(find_point(ps, "requests_total", {{"class", "200"}}) != nullptr);
}

TEST_CASE("values: nil does not count, a non-number or an error fails, a negative increment fails") {
  Host host;
  Logs logs;
  logs.log({{"amount", 10.5}});
  logs.log({{"amount", std::int64_t{4}}});
  logs.log({});                                        // nil: not counted, not failed
  logs.log({{"amount", std::string("lots")}});         // not a number
  logs.log({{"amount", -3.0}});                        // negative increment
  logs.log({{"amount", std::string("12")}, {"conv", std::int64_t{1}}});  // Double("12") = 12
  logs.log({{"amount", std::string("abc")}, {"conv", std::int64_t{1}}});  // Double("abc"): error
  const auto ps = run(R"(
interval: 1h
rules:
  - name: revenue_total
    where: attributes["conv"] == nil
    value: attributes["amount"]
  - name: converted_total
    where: attributes["conv"] == 1
    value: Double(attributes["amount"])
)", one(logs.take()), Signal::kLogs, &host.telemetry());
  const Point* revenue = find_point(ps, "revenue_total", {});
  REQUIRE(revenue != nullptr);
  CHECK_FALSE(revenue->is_int);  // a counter with a value sums doubles
  CHECK(revenue->d == doctest::Approx(14.5));
  const Point* converted = find_point(ps, "converted_total", {});
  REQUIRE(converted != nullptr);
  CHECK(converted->d == doctest::Approx(12));
  auto failed = [&](const std::string& rule, const std::string& reason) {
    return self_metric(host.telemetry(), "vigil_kpi_records_failed_total",
                       {{"connector", "kpi"}, {"rule", rule}, {"reason", reason}});
  };
  CHECK(failed("revenue_total", "not_a_number") == 1);
  CHECK(failed("revenue_total", "negative_increment") == 1);
  CHECK(failed("revenue_total", "evaluation_error") == 0);
  CHECK(failed("converted_total", "evaluation_error") == 1);
  CHECK(self_metric(host.telemetry(), "vigil_kpi_records_matched_total", {{"connector", "kpi"}, {"rule", "revenue_total"}}) == 5);
}

TEST_CASE("gauge: the last value per series") {
  Logs logs;
  logs.log({{"queue", std::string("emails")}, {"depth", std::int64_t{5}}});
  logs.log({{"queue", std::string("billing")}, {"depth", std::int64_t{9}}});
  logs.log({{"queue", std::string("emails")}, {"depth", 2.5}});
  logs.log({{"queue", std::string("emails")}});  // nil: ignored, the gauge keeps 2.5
  const auto ps = run(R"(
interval: 1h
rules:
  - name: queue_depth
    type: gauge
    value: attributes["depth"]
    labels: [queue]
)", one(logs.take()));
  const Point* emails = find_point(ps, "queue_depth", {{"queue", "emails"}});
  const Point* billing = find_point(ps, "queue_depth", {{"queue", "billing"}});
  REQUIRE(emails != nullptr);
  REQUIRE(billing != nullptr);
  CHECK(emails->type == model::MetricType::kGauge);
  CHECK(emails->d == 2.5);
  CHECK(billing->d == 9);
}

TEST_CASE("histogram: explicit buckets (upper bound inclusive), count, sum, min, max") {
  const std::vector<double> values = {0.2, 1, 1.5, 3, 7, 12, 0.05, 5};
  const std::vector<double> bounds = {0.1, 1, 5, 10};
  Logs logs;
  for (double v : values) logs.log({{"took", v}});
  const auto ps = run(R"(
interval: 1h
rules:
  - name: task_seconds
    type: histogram
    unit: s
    buckets: [0.1, 1, 5, 10]
    value: attributes["took"]
)", one(logs.take()));
  REQUIRE(ps.size() == 1);
  const Point& p = ps[0];
  CHECK(p.type == model::MetricType::kHistogram);
  CHECK(p.temporality == model::AggregationTemporality::kCumulative);
  CHECK(p.bounds == bounds);
  std::vector<std::uint64_t> expected(bounds.size() + 1, 0);
  double sum = 0;
  for (double v : values) {
    std::size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;  // (bounds[i-1], bounds[i]]
    ++expected[i];
    sum += v;
  }
  CHECK(p.buckets == expected);
  CHECK(p.count == values.size());
  CHECK(p.sum == doctest::Approx(sum));
  REQUIRE(p.min.has_value());
  REQUIRE(p.max.has_value());
  CHECK(*p.min == *std::min_element(values.begin(), values.end()));
  CHECK(*p.max == *std::max_element(values.begin(), values.end()));
}

TEST_CASE("exemplars: the last matching record's trace and span with its value") {
  Spans spans;
  SpanSpec a;
  a.kind = model::SpanKind::kServer;
  a.start = kT0;
  a.end = kT0 + 250'000'000;
  a.trace = trace_id(1);
  a.span = span_id(1);
  SpanSpec b = a;
  b.end = kT0 + 1'500'000'000;
  b.trace = trace_id(2);
  b.span = span_id(2);
  SpanSpec c = a;  // no IDs: not an exemplar, the previous one stays
  c.trace = {};
  c.span = {};
  spans.span(a).span(b).span(c);
  Logs logs;
  logs.log({{"event", std::string("x")}}, kT0, trace_id(9), span_id(9));
  logs.log({{"event", std::string("x")}, {"trace_id", std::string("0102030405060708090a0b0c0d0e0f10")}}, kT0 + 1);
  Host host;
  Collector out;
  const std::string yaml = R"(
interval: 1h
rules:
  - name: server_seconds
    type: histogram
    source: spans
    where: kind == SPAN_KIND_SERVER
    value: duration
    exemplars: true
  - name: events_total
    exemplars: true
)";
  auto traces_in = make_connector(host.telemetry(), out, yaml, Signal::kTraces);
  auto logs_in = make_connector(host.telemetry(), out, yaml, Signal::kLogs);
  REQUIRE(traces_in->start(host).is_ok());
  REQUIRE(traces_in->consume(spans.take()).is_ok());
  REQUIRE(logs_in->consume(logs.take()).is_ok());
  traces_in->shutdown(component::Clock::now());
  const auto ps = last_points(out);
  const Point* h = find_point(ps, "server_seconds", {});
  REQUIRE(h != nullptr);
  REQUIRE(h->has_exemplar);
  CHECK(h->exemplar_trace == trace_id(2));
  CHECK(h->exemplar_value == doctest::Approx(1.5));
  CHECK(h->count == 3);
  const Point* e = find_point(ps, "events_total", {});
  REQUIRE(e != nullptr);
  REQUIRE(e->has_exemplar);
  model::TraceId from_attr{};
  for (std::size_t i = 0; i < from_attr.size(); ++i) from_attr[i] = static_cast<std::uint8_t>(i + 1);
  CHECK(e->exemplar_trace == from_attr);  // a JSON log's trace_id field
  CHECK(e->exemplar_value == 1);
}

// ---- the default pack against generated shop events -------------------------------------------

std::string rfc3339_millis(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

TEST_CASE("the default pack counts a generated set of shop events and spans") {
  std::mt19937 rng(20240501);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> methods = {"card", "paypal", "invoice"};
  const std::vector<std::string> regions = {"eu", "us"};
  const std::vector<std::string> providers = {"stripe", "github"};
  const std::vector<std::string> queues = {"emails", "billing"};

  std::map<Labels, std::int64_t> created, failed_orders, deliveries, failures, jobs;
  struct Lag {
    std::vector<double> values;
  };
  std::map<std::string, Lag> lags;

  Logs logs;
  logs.resource({{"service.name", std::string("shop")}});
  Spans spans;
  spans.resource({{"service.name", std::string("shop")}});
  for (int i = 0; i < 400; ++i) {
    const std::uint64_t t = kT0 + static_cast<std::uint64_t>(i) * 1'000'000'000ull;
    const std::int64_t t_ms = static_cast<std::int64_t>(t / 1'000'000);
    switch (rng() % 9) {
      case 0:
      case 1: {
        const bool ok = rng() % 4 != 0;
        const std::string m = pick(methods);
        const std::string r = pick(regions);
        Attrs a = {{"event", std::string(ok ? "order.created" : "order.failed")}, {"order_id", std::string("o") + std::to_string(i)},
                   {"amount", 10.0 + i}, {"currency", std::string("EUR")}, {"region", r}};
        Labels l = {{"region", r}};
        if (rng() % 5 != 0) {  // sometimes the method is missing: the label is left off
          a.emplace_back("payment_method", m);
          l["payment_method"] = m;
        }
        logs.log(a, t);
        ++(ok ? created : failed_orders)[l];
        break;
      }
      case 2: {
        const std::string p = pick(providers);
        const int kind = static_cast<int>(rng() % 5);  // 0,1 delivered; 2 404; 3 503; 4 no status
        if (kind <= 1) {
          logs.log({{"event", std::string("webhook.delivered")}, {"provider", p}, {"status", std::int64_t{200}}}, t);
          ++deliveries[{{"provider", p}, {"outcome", "delivered"}}];
        } else {
          Attrs a = {{"event", std::string("webhook.failed")}, {"provider", p}, {"attempt", std::int64_t{1}}};
          if (kind == 2) a.emplace_back("status", std::int64_t{404});
          if (kind == 3) a.emplace_back("status", std::string("503"));  // a string status works too
          logs.log(a, t);
          ++deliveries[{{"provider", p}, {"outcome", "failed"}}];
          ++failures[{{"provider", p}, {"status_class", kind == 2 ? "4xx" : kind == 3 ? "5xx" : "error"}}];
        }
        break;
      }
      case 3: {
        const std::string p = pick(providers);
        const int kind = static_cast<int>(rng() % 5);  // 0,1: 200; 2: 429; 3: 500; 4: timeout (ERROR, no status)
        SpanSpec s;
        s.kind = model::SpanKind::kClient;
        s.start = t;
        s.end = t + 100'000'000;
        s.trace = trace_id(static_cast<std::uint8_t>(i));
        s.span = span_id(static_cast<std::uint8_t>(i));
        s.attrs = {{"webhook.provider", p}};
        if (kind <= 1) s.attrs.emplace_back("http.response.status_code", std::int64_t{200});
        if (kind == 2) s.attrs.emplace_back("http.response.status_code", std::int64_t{429});
        if (kind == 3) {
          s.attrs.emplace_back("http.response.status_code", std::int64_t{500});
          s.status = model::StatusCode::kError;
        }
        if (kind == 4) s.status = model::StatusCode::kError;
        spans.span(s);
        const bool bad = kind >= 2;
        ++deliveries[{{"provider", p}, {"outcome", bad ? "failed" : "delivered"}}];
        if (bad) ++failures[{{"provider", p}, {"status_class", kind == 2 ? "4xx" : kind == 3 ? "5xx" : "error"}}];
        // A client span without the webhook attribute is not a webhook.
        SpanSpec other = s;
        other.attrs = {{"http.response.status_code", std::int64_t{500}}};
        spans.span(other);
        break;
      }
      case 4: {
        const std::string q = pick(queues);
        std::int64_t lag_ms = 20 + static_cast<std::int64_t>(rng() % 3'600'000);
        if (lag_ms % 50 == 0) ++lag_ms;  // never exactly on a bucket bound
        const std::int64_t enq = t_ms - lag_ms;
        if (rng() % 2 == 0) {
          logs.log({{"event", std::string("job.started")}, {"queue", q}, {"job_id", std::string("j") + std::to_string(i)},
                    {"enqueued_at", enq}},
                   t);
        } else {
          logs.log({{"event", std::string("job.started")}, {"queue", q}, {"enqueued_at", rfc3339_millis(enq)}}, t);
        }
        lags[q].values.push_back(static_cast<double>(lag_ms) / 1000.0);
        logs.log({{"event", std::string("job.started")}, {"queue", q}}, t);  // no enqueued_at: no lag
        break;
      }
      case 5: {
        const std::string q = pick(queues);
        const bool ok = rng() % 3 != 0;
        logs.log({{"event", std::string(ok ? "job.completed" : "job.failed")}, {"queue", q}}, t);
        ++jobs[{{"queue", q}, {"outcome", ok ? "completed" : "failed"}}];
        break;
      }
      case 6: {
        const std::string q = pick(queues);
        std::int64_t lag_ms = 20 + static_cast<std::int64_t>(rng() % 100'000);
        if (lag_ms % 50 == 0) ++lag_ms;
        const bool ok = rng() % 3 != 0;
        SpanSpec s;
        s.kind = model::SpanKind::kConsumer;
        s.start = t;
        s.end = t + 5'000'000;
        s.status = ok ? model::StatusCode::kUnset : model::StatusCode::kError;
        s.attrs = {{"messaging.destination.name", q}, {"enqueued_at", t_ms - lag_ms}};
        spans.span(s);
        lags[q].values.push_back(static_cast<double>(lag_ms) / 1000.0);
        ++jobs[{{"queue", q}, {"outcome", ok ? "completed" : "failed"}}];
        break;
      }
      default:
        logs.log({{"event", std::string("page.viewed")}, {"region", pick(regions)}}, t);  // nothing
        break;
    }
  }

  Host host;
  Collector out;
  auto logs_in = make_connector(host.telemetry(), out, "interval: 1h\npacks: [default]\n", Signal::kLogs);
  auto traces_in = make_connector(host.telemetry(), out, "interval: 1h\npacks: [default]\n", Signal::kTraces);
  REQUIRE(logs_in->start(host).is_ok());
  REQUIRE(traces_in->start(host).is_ok());
  REQUIRE(logs_in->consume(logs.take()).is_ok());
  REQUIRE(traces_in->consume(spans.take()).is_ok());
  logs_in->shutdown(component::Clock::now());
  traces_in->shutdown(component::Clock::now());
  REQUIRE(out.count() == 1);
  const auto ps = last_points(out);

  auto counter_points = [&](const std::string& metric) {
    std::map<Labels, std::int64_t> got;
    for (const auto& p : ps) {
      if (p.metric != metric) continue;
      CHECK(p.type == model::MetricType::kSum);
      CHECK(p.resource == Labels{{"service.name", "shop"}});
      got[p.labels] = p.i;
    }
    return got;
  };
  CHECK(counter_points("orders_created_total") == created);
  CHECK(counter_points("orders_failed_total") == failed_orders);
  CHECK(counter_points("webhook_deliveries_total") == deliveries);
  CHECK(counter_points("webhook_failures_total") == failures);
  CHECK(counter_points("queue_jobs_total") == jobs);
  // Every failed delivery is a failure of some status class.
  std::int64_t failed_deliveries = 0, all_failures = 0;
  for (const auto& [l, n] : deliveries)
    if (l.at("outcome") == "failed") failed_deliveries += n;
  for (const auto& [l, n] : failures) all_failures += n;
  CHECK(failed_deliveries == all_failures);

  std::size_t lag_points = 0;
  for (const auto& p : ps) {
    if (p.metric != "queue_lag_seconds") continue;
    ++lag_points;
    CHECK(p.type == model::MetricType::kHistogram);
    CHECK(p.unit == "s");
    REQUIRE(p.labels.count("queue") == 1);
    const auto& values = lags[p.labels.at("queue")].values;
    REQUIRE(!values.empty());
    CHECK(p.count == values.size());
    double sum = 0;
    std::vector<std::uint64_t> buckets(p.bounds.size() + 1, 0);
    for (double v : values) {
      sum += v;
      std::size_t i = 0;
      while (i < p.bounds.size() && v > p.bounds[i]) ++i;
      ++buckets[i];
    }
    CHECK(p.sum == doctest::Approx(sum).epsilon(1e-9));
    CHECK(p.buckets == buckets);
    CHECK(*p.min == doctest::Approx(*std::min_element(values.begin(), values.end())));
    CHECK(*p.max == doctest::Approx(*std::max_element(values.begin(), values.end())));
    CHECK(p.bounds.back() == 3600);
  }
  CHECK(lag_points == lags.size());
}

}  // namespace
}  // namespace vigil::testing::kpi_test
