#pragma once
// Shared by the process-level tests: OTLP requests built with libprotobuf (an independent
// encoder), and a reader that counts what a file exporter wrote.

#include <simdjson.h>

#include <string>
#include <utility>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/support/process.hpp"

namespace vigil::testing::integration {

namespace collog = opentelemetry::proto::collector::logs::v1;
namespace coltrace = opentelemetry::proto::collector::trace::v1;
namespace colmetrics = opentelemetry::proto::collector::metrics::v1;

inline std::string logs_request(int records, const std::string& tag) {
  collog::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* attr = rl->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("shop");
  auto* sl = rl->add_scope_logs();
  for (int i = 0; i < records; ++i) {
    auto* r = sl->add_log_records();
    r->set_time_unix_nano(1700000000000000000ULL + i);
    r->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_INFO);
    r->mutable_body()->set_string_value(tag + "-" + std::to_string(i));
  }
  return req.SerializeAsString();
}

inline std::string traces_request(int spans) {
  coltrace::ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < spans; ++i) {
    auto* s = ss->add_spans();
    s->set_trace_id(std::string(16, static_cast<char>(i + 1)));
    s->set_span_id(std::string(8, static_cast<char>(i + 1)));
    s->set_name("GET /orders");
    s->set_start_time_unix_nano(1);
    s->set_end_time_unix_nano(2);
  }
  return req.SerializeAsString();
}

inline std::string metrics_request(int points) {
  colmetrics::ExportMetricsServiceRequest req;
  auto* m = req.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("orders");
  auto* sum = m->mutable_sum();
  sum->set_is_monotonic(true);
  sum->set_aggregation_temporality(opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (int i = 0; i < points; ++i) {
    auto* p = sum->add_data_points();
    p->set_as_int(i);
    p->set_time_unix_nano(5);
  }
  return req.SerializeAsString();
}

inline const std::vector<std::pair<std::string, std::string>> kProto = {{"Content-Type", "application/x-protobuf"}};

// Counts items in a file exporter's OTLP/JSON output (one request per line).
struct Counts {
  std::size_t log_records = 0, spans = 0, points = 0, lines = 0;
  std::string bodies;
};

inline Counts count_file(const std::string& path) {
  Counts c;
  std::string text = read_file(path);
  simdjson::dom::parser parser;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) break;  // a line still being written
    std::string line = text.substr(start, end - start);
    start = end + 1;
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc)) continue;
    ++c.lines;
    simdjson::dom::array arr;
    if (!doc["resourceLogs"].get(arr)) {
      for (auto rl : arr) {
        for (auto sl : rl["scopeLogs"].get_array()) {
          for (auto r : sl["logRecords"].get_array()) {
            ++c.log_records;
            std::string_view body;
            if (!r["body"]["stringValue"].get(body)) c.bodies.append(body).append(",");
          }
        }
      }
    }
    if (!doc["resourceSpans"].get(arr)) {
      for (auto rs : arr) {
        for (auto ss : rs["scopeSpans"].get_array()) c.spans += ss["spans"].get_array().size();
      }
    }
    if (!doc["resourceMetrics"].get(arr)) {
      for (auto rm : arr) {
        for (auto sm : rm["scopeMetrics"].get_array()) {
          for (auto m : sm["metrics"].get_array()) {
            simdjson::dom::element data;
            if (!m["sum"].get(data) || !m["gauge"].get(data)) c.points += data["dataPoints"].get_array().size();
          }
        }
      }
    }
  }
  return c;
}

}  // namespace vigil::testing::integration
