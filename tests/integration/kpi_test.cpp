// Process-level KPI test: a recorded day of shop traffic (examples/shop) goes into the real agent
// through filelog (JSON log lines) and OTLP/HTTP (log records and spans), through the correlation
// processor into the kpi connector with the default pack, with a config reload half way. The
// metrics the agent writes must equal the counts this test computes from the generated events,
// every counter must be monotonic with one start time, and log records must carry the trace IDs
// the correlation processor found or joined.

#include <doctest/doctest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "examples/shop/shop_traffic.hpp"
#include "tests/integration/integration_support.hpp"
#include "tests/support/process.hpp"

using namespace vigil::testing;
using namespace vigil::testing::integration;
using namespace std::chrono_literals;
namespace shop = vigil::examples::shop;

namespace {

namespace logs_pb = opentelemetry::proto::logs::v1;
namespace trace_pb = opentelemetry::proto::trace::v1;
namespace common_pb = opentelemetry::proto::common::v1;

using Labels = std::map<std::string, std::string>;
// metric name -> label set -> value
using Totals = std::map<std::string, std::map<Labels, double>>;

struct Histogram {
  std::uint64_t count = 0;
  double sum = 0;
  std::vector<double> lags;  // expected side: every observation
  std::vector<std::uint64_t> buckets;
  std::vector<double> bounds;
};

// --- what the default pack must produce, computed from the events ---------------------------

std::string status_class(int status) {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  return "error";
}

struct Expected {
  Totals counters;
  std::map<std::string, Histogram> lag;  // by queue
};

Expected expected_from(const std::vector<shop::Event>& events) {
  Expected x;
  auto add = [&](const std::string& metric, Labels labels) { x.counters[metric][labels] += 1; };
  for (const auto& e : events) {
    switch (e.kind) {
      case shop::Kind::kOrderCreated:
        add("orders_created_total", {{"payment_method", e.payment_method}, {"region", e.region}});
        break;
      case shop::Kind::kOrderFailed:
        add("orders_failed_total", {{"payment_method", e.payment_method}, {"region", e.region}});
        break;
      case shop::Kind::kWebhookDelivered:
        add("webhook_deliveries_total", {{"provider", e.provider}, {"outcome", "delivered"}});
        break;
      case shop::Kind::kWebhookFailed:
        add("webhook_deliveries_total", {{"provider", e.provider}, {"outcome", "failed"}});
        add("webhook_failures_total", {{"provider", e.provider}, {"status_class", status_class(e.status)}});
        break;
      case shop::Kind::kWebhookSpan:
        add("webhook_deliveries_total", {{"provider", e.provider}, {"outcome", e.status >= 400 ? "failed" : "delivered"}});
        if (e.status >= 400) add("webhook_failures_total", {{"provider", e.provider}, {"status_class", status_class(e.status)}});
        break;
      case shop::Kind::kJobStarted:
        x.lag[e.queue].lags.push_back(e.lag_seconds());
        break;
      case shop::Kind::kJobCompleted: add("queue_jobs_total", {{"queue", e.queue}, {"outcome", "completed"}}); break;
      case shop::Kind::kJobFailed: add("queue_jobs_total", {{"queue", e.queue}, {"outcome", "failed"}}); break;
      case shop::Kind::kJobSpan:
        x.lag[e.queue].lags.push_back(e.lag_seconds());
        add("queue_jobs_total", {{"queue", e.queue}, {"outcome", e.status == 2 ? "failed" : "completed"}});
        break;
      case shop::Kind::kRequestSpan: break;
    }
  }
  return x;
}

// --- sending ---------------------------------------------------------------------------------

void set_attr(google::protobuf::RepeatedPtrField<common_pb::KeyValue>* attrs, const std::string& key,
              const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}
void set_attr(google::protobuf::RepeatedPtrField<common_pb::KeyValue>* attrs, const std::string& key, std::int64_t value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::uint64_t nanos(std::int64_t ms) { return static_cast<std::uint64_t>(ms) * 1000000ULL; }

std::string shop_spans_request(const std::vector<const shop::Event*>& events) {
  coltrace::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  set_attr(rs->mutable_resource()->mutable_attributes(), "service.name", "shop");
  auto* ss = rs->add_scope_spans();
  for (const shop::Event* e : events) {
    auto* s = ss->add_spans();
    s->set_trace_id(unhex(e->trace_id));
    s->set_span_id(unhex(e->span_id));
    s->set_start_time_unix_nano(nanos(e->time_ms));
    s->set_end_time_unix_nano(nanos(e->end_ms));
    auto* attrs = s->mutable_attributes();
    if (e->kind == shop::Kind::kRequestSpan) {
      // Only the HTTP request's span carries the request ID: webhook attempts and jobs run later,
      // in traces of their own.
      set_attr(attrs, "request_id", e->request_id);
      s->set_name("POST /orders");
      s->set_kind(trace_pb::Span::SPAN_KIND_SERVER);
    } else if (e->kind == shop::Kind::kWebhookSpan) {
      s->set_name("POST webhook");
      s->set_kind(trace_pb::Span::SPAN_KIND_CLIENT);
      set_attr(attrs, "webhook.provider", e->provider);
      set_attr(attrs, "http.response.status_code", e->status);
      if (e->status >= 400) s->mutable_status()->set_code(trace_pb::Status::STATUS_CODE_ERROR);
    } else {
      s->set_name(e->queue + " process");
      s->set_kind(trace_pb::Span::SPAN_KIND_CONSUMER);
      set_attr(attrs, "messaging.destination.name", e->queue);
      if (e->enqueued_at_as_text) set_attr(attrs, "enqueued_at", shop::rfc3339(e->enqueued_at_ms));
      else set_attr(attrs, "enqueued_at", e->enqueued_at_ms);
      if (e->status == 2) s->mutable_status()->set_code(trace_pb::Status::STATUS_CODE_ERROR);
    }
  }
  return req.SerializeAsString();
}

std::string shop_logs_request(const std::vector<const shop::Event*>& events) {
  collog::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  set_attr(rl->mutable_resource()->mutable_attributes(), "service.name", "shop");
  auto* sl = rl->add_scope_logs();
  for (const shop::Event* e : events) {
    auto* r = sl->add_log_records();
    r->set_time_unix_nano(nanos(e->time_ms));
    r->mutable_body()->set_string_value(std::string(shop::event_name(e->kind)) + " " + e->order_id);
    auto* attrs = r->mutable_attributes();
    set_attr(attrs, "event", shop::event_name(e->kind));
    set_attr(attrs, "order_id", e->order_id);
    set_attr(attrs, "payment_method", e->payment_method);
    set_attr(attrs, "region", e->region);
    set_attr(attrs, "request_id", e->request_id);
    if (!e->trace_id.empty()) set_attr(attrs, "traceId", e->trace_id);
  }
  return req.SerializeAsString();
}

template <class Make>
void post_in_chunks(std::uint16_t port, const std::string& path, const std::vector<const shop::Event*>& events, Make make) {
  for (std::size_t i = 0; i < events.size(); i += 400) {
    std::vector<const shop::Event*> chunk(events.begin() + static_cast<std::ptrdiff_t>(i),
                                          events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + 400)));
    auto r = http_request("POST", port, path, make(chunk), kProto);
    REQUIRE(r.status == 200);
  }
}

// --- reading what the agent wrote ------------------------------------------------------------

struct Point {
  std::string metric;
  Labels labels;
  std::string service;
  std::uint64_t start = 0, time = 0;
  double value = 0;  // sums; histograms: count
  Histogram hist;
  bool has_exemplar = false;
};

double number(simdjson::dom::element p) {
  std::string_view s;
  if (!p["asInt"].get(s)) return std::stod(std::string(s));
  std::int64_t i = 0;
  if (!p["asInt"].get(i)) return static_cast<double>(i);
  double d = 0;
  if (!p["asDouble"].get(d)) return d;
  return NAN;
}

std::uint64_t u64(simdjson::dom::element v) {
  std::string_view s;
  if (!v.get(s)) return std::stoull(std::string(s));
  std::uint64_t u = 0;
  if (!v.get(u)) return u;
  return 0;
}

std::vector<Point> read_points(const std::string& path) {
  std::vector<Point> out;
  for_each_json_line(path, [&](simdjson::dom::element doc) {
    simdjson::dom::array rms;
    if (doc["resourceMetrics"].get(rms)) return;
    for (auto rm : rms) {
      simdjson::dom::element resource;
      Labels res;
      if (!rm["resource"].get(resource)) res = attr_map(resource, "attributes");
      for (auto sm : rm["scopeMetrics"].get_array()) {
        for (auto m : sm["metrics"].get_array()) {
          const std::string name(m["name"].get_string().value());
          simdjson::dom::element data;
          const bool is_hist = !m["histogram"].get(data);
          if (!is_hist && m["sum"].get(data) && m["gauge"].get(data)) continue;
          for (auto p : data["dataPoints"].get_array()) {
            Point pt;
            pt.metric = name;
            pt.labels = attr_map(p, "attributes");
            pt.service = res["service.name"];
            pt.start = u64(p["startTimeUnixNano"]);
            pt.time = u64(p["timeUnixNano"]);
            simdjson::dom::array ex;
            pt.has_exemplar = !p["exemplars"].get(ex) && ex.size() > 0;
            if (is_hist) {
              pt.hist.count = u64(p["count"]);
              if (p["sum"].get(pt.hist.sum) != simdjson::SUCCESS) pt.hist.sum = NAN;
              for (auto b : p["bucketCounts"].get_array()) pt.hist.buckets.push_back(u64(b));
              simdjson::dom::array bounds;
              if (!p["explicitBounds"].get(bounds)) {
                for (auto b : bounds) pt.hist.bounds.push_back(b.get_double().value());
              }
              pt.value = static_cast<double>(pt.hist.count);
            } else {
              pt.value = number(p);
            }
            out.push_back(std::move(pt));
          }
        }
      }
    }
  });
  return out;
}

// The latest point of each series.
std::map<std::pair<std::string, Labels>, Point> latest(const std::vector<Point>& points) {
  std::map<std::pair<std::string, Labels>, Point> out;
  for (const auto& p : points) {
    auto& slot = out[{p.metric, p.labels}];
    if (p.time >= slot.time) slot = p;
  }
  return out;
}

bool counters_match(const std::vector<Point>& points, const Expected& x) {
  auto last = latest(points);
  for (const auto& [metric, series] : x.counters) {
    for (const auto& [labels, value] : series) {
      auto it = last.find({metric, labels});
      if (it == last.end() || it->second.value != value) return false;
    }
  }
  for (const auto& [queue, h] : x.lag) {
    auto it = last.find({"queue_lag_seconds", Labels{{"queue", queue}}});
    if (it == last.end() || it->second.hist.count != h.lags.size()) return false;
  }
  return true;
}

void write_lines(const std::string& path, const std::vector<const shop::Event*>& events) {
  std::ofstream f(path, std::ios::app);
  for (const shop::Event* e : events) f << shop::json_line(*e) << '\n';
}

}  // namespace

TEST_CASE("kpi: a day of shop traffic through filelog and OTLP gives the default pack's KPIs exactly") {
  shop::Settings settings;
  settings.seed = 20251120;
  settings.orders = 3000;
  const auto events = shop::generate(settings);
  const Expected expected = expected_from(events);
  REQUIRE(expected.counters.at("webhook_failures_total").size() >= 4);  // the generator made failures

  // Spans first (the correlation processor joins log lines to the request spans seen before them),
  // then OTLP log records, then log lines; split in two halves around a config reload.
  std::vector<const shop::Event*> spans, otlp_logs, lines;
  for (const auto& e : events) {
    if (e.channel == shop::Channel::kOtlpTraces) spans.push_back(&e);
    else if (e.channel == shop::Channel::kOtlpLogs) otlp_logs.push_back(&e);
    else lines.push_back(&e);
  }
  REQUIRE(!spans.empty());
  REQUIRE(!otlp_logs.empty());

  TempDir work;
  const std::string log_dir = work.file("logs");
  std::filesystem::create_directories(log_dir);
  const std::string log_file = log_dir + "/shop.log";
  write_file(log_file, "");
  const std::string storage = work.file("storage");
  std::filesystem::create_directories(storage);
  const std::string metrics_out = work.file("metrics.jsonl");
  const std::string logs_out = work.file("logs.jsonl");
  const std::uint16_t otlp_port = free_port();

  const std::string components =
      "receivers:\n"
      "  otlp:\n    protocols: {http: {endpoint: " + port_endpoint(otlp_port) + "}}\n"
      "  filelog:\n"
      "    include: [" + log_dir + "/*.log]\n"
      "    start_at: beginning\n"
      "    poll_interval: 50ms\n"
      "    storage: file_storage\n"
      "    operators:\n"
      "      - type: json_parser\n"
      "        timestamp: {parse_from: attributes.time, layout_type: gotime, layout: \"2006-01-02T15:04:05.999Z07:00\"}\n"
      "processors:\n"
      "  correlation:\n"
      "    service_name: {default: shop}\n"
      "  batch: {timeout: 100ms}\n"
      "connectors:\n"
      "  kpi: {interval: 500ms, packs: [default]}\n"
      "exporters:\n"
      "  file/metrics: {path: " + metrics_out + ", flush_interval: 0}\n"
      "  file/logs: {path: " + logs_out + ", flush_interval: 0}\n";
  const std::string pipelines =
      "  pipelines:\n"
      "    traces: {receivers: [otlp], processors: [correlation], exporters: [kpi]}\n"
      "    logs: {receivers: [otlp, filelog], processors: [correlation, batch], exporters: [kpi, file/logs]}\n"
      "    metrics: {receivers: [kpi], exporters: [file/metrics]}\n";
  VigilProcess agent(components, pipelines, "  file_storage: {directory: " + storage + "}\n", ", file_storage");
  agent.start();

  auto half = [](const std::vector<const shop::Event*>& v, bool first) {
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    return first ? std::vector<const shop::Event*>(v.begin(), mid) : std::vector<const shop::Event*>(mid, v.end());
  };
  std::size_t sent_spans = 0;
  for (bool first : {true, false}) {
    const auto s = half(spans, first);
    post_in_chunks(otlp_port, "/v1/traces", s, shop_spans_request);
    sent_spans += s.size();
    post_in_chunks(otlp_port, "/v1/logs", half(otlp_logs, first), shop_logs_request);
    write_lines(log_file, half(lines, first));
    if (first) {
      // Everything of the first half counted, then a reload that keeps the rules.
      REQUIRE(eventually([&] {
        return read_records(logs_out).size() >= lines.size() / 2 + otlp_logs.size() / 2;
      }, 60s));
      REQUIRE(eventually([&] { return !read_points(metrics_out).empty(); }, 20s));
      agent.proc->signal(SIGHUP);
      REQUIRE(eventually([&] { return agent.proc->err().find("reloaded") != std::string::npos; }, 20s));
      REQUIRE(eventually([&] { return http_request("GET", agent.health_port, "/").status == 200; }, 20s));
    }
  }

  const bool all_counted = eventually([&] { return counters_match(read_points(metrics_out), expected); }, 90s);
  const auto points = read_points(metrics_out);
  const auto last = latest(points);
  // Exact equality of every expected series (and a readable message for the first difference).
  for (const auto& [metric, series] : expected.counters) {
    for (const auto& [labels, value] : series) {
      auto it = last.find({metric, labels});
      std::string label_text;
      for (const auto& [k, v] : labels) label_text += k + "=" + v + " ";
      INFO(metric << "{" << label_text << "}");
      REQUIRE(it != last.end());
      CHECK(it->second.value == value);
      CHECK(it->second.service == "shop");
    }
  }
  // No series the events do not explain (other than `other`, which must not appear here).
  for (const auto& [key, p] : last) {
    if (key.first == "queue_lag_seconds") continue;
    INFO(key.first);
    CHECK(expected.counters.count(key.first) == 1);
    if (expected.counters.count(key.first) == 1) CHECK(expected.counters.at(key.first).count(key.second) == 1);
  }
  // Queue lag: count, sum and every bucket, from the lags of the events.
  for (const auto& [queue, h] : expected.lag) {
    auto it = last.find({"queue_lag_seconds", Labels{{"queue", queue}}});
    INFO(queue);
    REQUIRE(it != last.end());
    const Histogram& got = it->second.hist;
    CHECK(got.count == h.lags.size());
    double sum = 0;
    for (double l : h.lags) sum += l;
    CHECK(got.sum == doctest::Approx(sum).epsilon(1e-9));
    REQUIRE(got.buckets.size() == got.bounds.size() + 1);
    std::vector<std::uint64_t> want(got.bounds.size() + 1, 0);
    for (double l : h.lags) {
      std::size_t b = 0;
      while (b < got.bounds.size() && l > got.bounds[b]) ++b;  // OTLP: bucket i holds (bounds[i-1], bounds[i]]
      ++want[b];
    }
    CHECK(got.buckets == want);
  }
  CHECK(all_counted);

  // Every series is monotonic over all emissions, before and after the reload, with one start time.
  std::map<std::pair<std::string, Labels>, std::pair<std::uint64_t, double>> seen;  // start, value
  std::size_t regressions = 0, start_changes = 0;
  std::vector<Point> sorted = points;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Point& a, const Point& b) { return a.time < b.time; });
  for (const auto& p : sorted) {
    auto [it, fresh] = seen.try_emplace({p.metric, p.labels}, p.start, p.value);
    if (fresh) continue;
    if (p.value < it->second.second) ++regressions;
    if (p.start != it->second.first) ++start_changes;
    it->second.second = p.value;
  }
  CHECK(regressions == 0);
  CHECK(start_changes == 0);
  // Webhook failures carry an exemplar trace when they came from spans.
  bool exemplar = false;
  for (const auto& [key, p] : last) exemplar = exemplar || (key.first == "webhook_failures_total" && p.has_exemplar);
  CHECK(exemplar);

  // Correlation: log lines that carried only a request ID got the trace of their request span;
  // the others kept the trace ID their line or attribute named.
  std::map<std::string, std::string> trace_of_request;
  for (const shop::Event* s : spans) {
    if (s->kind == shop::Kind::kRequestSpan) trace_of_request[s->request_id] = s->trace_id;
  }
  std::map<std::string, const shop::Event*> order_event;
  for (const auto& e : events) {
    if (e.kind == shop::Kind::kOrderCreated || e.kind == shop::Kind::kOrderFailed) order_event[e.order_id] = &e;
  }
  std::size_t joined = 0, extracted = 0, wrong = 0, with_correlation_id = 0;
  // The logs file exporter may still be writing the last batches (the KPIs above came through
  // the other branch of the same pipeline): wait until every order record is in the file.
  auto is_order = [](const Rec& r) {
    auto ev = r.attrs.find("event");
    return ev != r.attrs.end() && (ev->second == "order.created" || ev->second == "order.failed");
  };
  std::vector<Rec> exported;
  const bool all_exported = eventually([&] {
    exported = read_records(logs_out);
    return static_cast<std::size_t>(std::count_if(exported.begin(), exported.end(), is_order)) >= order_event.size();
  }, 60s);
  CHECK(all_exported);
  for (const auto& r : exported) {
    auto ev = r.attrs.find("event");
    if (ev == r.attrs.end() || (ev->second != "order.created" && ev->second != "order.failed")) continue;
    const shop::Event* e = order_event.at(r.attrs.at("order_id"));
    if (r.attrs.count("correlation.id") == 1 && r.attrs.at("correlation.id") == e->request_id) ++with_correlation_id;
    std::string want = e->trace_id;
    if (want.empty()) want = trace_of_request.at(e->request_id);
    if (r.trace_id != want) {
      if (wrong < 3) MESSAGE("order " << e->order_id << " request " << e->request_id << " wanted trace " << want << " got '" << r.trace_id << "'" << (e->trace_id.empty() ? " (joined)" : " (own)") << " channel " << static_cast<int>(e->channel));
      ++wrong;
    } else if (e->trace_id.empty()) {
      ++joined;
    } else {
      ++extracted;
    }
  }
  CHECK(wrong == 0);
  CHECK(joined > 0);
  CHECK(extracted > 0);
  CHECK(with_correlation_id == order_event.size());
  const std::string self = agent.metrics();
  CHECK(metric_value(self, "vigil_correlation_join_lookups_total", "result=\"hit\"") >= static_cast<double>(joined));
  agent.stop();
  CHECK(sent_spans == spans.size());
}
