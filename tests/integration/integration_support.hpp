#pragma once
// Shared by the process-level tests: a Vigil process on free ports, OTLP requests built with
// libprotobuf (an independent encoder), and a reader that counts what a file exporter wrote.

#include <doctest/doctest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace vigil::testing::integration {

using namespace std::chrono_literals;

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

inline std::string port_endpoint(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// A Vigil process: the components' YAML, plus a health_check extension and self-metrics on free
// ports, plus the pipelines' YAML (under service).
class VigilProcess {
 public:
  // `extensions`: more extension blocks (YAML under `extensions:`, indented by two), and their
  // IDs for service.extensions (", file_storage").
  VigilProcess(const std::string& components, const std::string& pipelines, const std::string& extensions = "",
               const std::string& extension_ids = "") {
    health_port = free_port();
    metrics_port = free_port();
    config_path = dir.file("vigil.yaml");
    write_file(config_path, components +
                                "extensions:\n" + extensions +
                                "  health_check:\n"
                                "    endpoint: " + port_endpoint(health_port) + "\n"
                                "service:\n"
                                "  extensions: [health_check" + extension_ids + "]\n"
                                "  telemetry:\n"
                                "    metrics:\n"
                                "      address: " + port_endpoint(metrics_port) + "\n" +
                                pipelines);
  }
  void start() {
    proc = std::make_unique<Process>(std::vector<std::string>{VIGIL_BINARY, "--config", config_path},
                                     std::map<std::string, std::string>{}, dir.file("stdout"), dir.file("stderr"));
    bool healthy = eventually([&] { return http_request("GET", health_port, "/").status == 200; }, 20s);
    INFO(proc->err());
    REQUIRE(healthy);
  }
  // Stops by PID; the agent must exit 0 (under ASan a leak makes the exit code non-zero).
  void stop() {
    proc->signal(SIGTERM);
    const int rc = proc->wait(20s);
    INFO(proc->err());
    CHECK(rc == 0);
  }
  std::string metrics() { return http_request("GET", metrics_port, "/metrics").body; }
  // Peak resident memory (VmHWM) in bytes, from /proc.
  std::size_t peak_rss() const {
    std::ifstream in("/proc/" + std::to_string(proc->pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
  }

  TempDir dir;
  std::uint16_t health_port, metrics_port;
  std::string config_path;
  std::unique_ptr<Process> proc;
};

// Calls f(document) for each complete line of a file exporter's OTLP/JSON output that parses
// (a line still being written, without its newline, is left for the next read). A missing file
// has no lines.
template <class F>
void for_each_json_line(const std::string& path, F f) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  const std::string text = read_file(path);
  simdjson::dom::parser parser;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) break;
    simdjson::dom::element doc;
    const bool ok = parser.parse(text.substr(start, end - start)).get(doc) == simdjson::SUCCESS;
    start = end + 1;
    if (ok) f(doc);
  }
}

// Counts items in a file exporter's OTLP/JSON output (one request per line).
struct Counts {
  std::size_t log_records = 0, spans = 0, points = 0, lines = 0;
  std::string bodies;
};

inline Counts count_file(const std::string& path) {
  Counts c;
  for_each_json_line(path, [&](simdjson::dom::element doc) {
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
  });
  return c;
}

// One log record as the file exporter wrote it.
struct Rec {
  std::string body;
  std::map<std::string, std::string> attrs;     // scalar attributes, as text
  std::map<std::string, std::string> resource;  // scalar resource attributes, as text
  std::uint64_t time = 0;
  std::int64_t severity = 0;
  std::string trace_id, span_id;  // hex, as OTLP/JSON writes them; empty when absent
};

inline std::string scalar_text(simdjson::dom::element v) {
  std::string_view s;
  if (!v["stringValue"].get(s)) return std::string(s);
  if (!v["intValue"].get(s)) return std::string(s);
  std::int64_t i = 0;
  if (!v["intValue"].get(i)) return std::to_string(i);
  bool b = false;
  if (!v["boolValue"].get(b)) return b ? "true" : "false";
  double d = 0;
  if (!v["doubleValue"].get(d)) return std::to_string(d);
  return "<other>";
}

inline std::map<std::string, std::string> attr_map(simdjson::dom::element parent, const char* key) {
  std::map<std::string, std::string> out;
  simdjson::dom::array arr;
  if (parent[key].get(arr)) return out;
  for (auto kv : arr) out[std::string(kv["key"].get_string().value())] = scalar_text(kv["value"]);
  return out;
}

inline std::vector<Rec> read_records(const std::string& path) {
  std::vector<Rec> out;
  for_each_json_line(path, [&](simdjson::dom::element doc) {
    simdjson::dom::array rls;
    if (doc["resourceLogs"].get(rls)) return;
    for (auto rl : rls) {
      simdjson::dom::element resource;
      std::map<std::string, std::string> res;
      if (!rl["resource"].get(resource)) res = attr_map(resource, "attributes");
      for (auto sl : rl["scopeLogs"].get_array()) {
        for (auto r : sl["logRecords"].get_array()) {
          Rec rec;
          simdjson::dom::element body;
          if (!r["body"].get(body)) rec.body = scalar_text(body);
          rec.attrs = attr_map(r, "attributes");
          rec.resource = res;
          std::string_view t;
          if (!r["timeUnixNano"].get(t)) rec.time = std::stoull(std::string(t));
          std::int64_t sev = 0;
          if (!r["severityNumber"].get(sev)) rec.severity = sev;
          std::string_view id;
          if (!r["traceId"].get(id)) rec.trace_id = std::string(id);
          if (!r["spanId"].get(id)) rec.span_id = std::string(id);
          out.push_back(std::move(rec));
        }
      }
    }
  });
  return out;
}

// The value of a self-metric line `name{...label...} value` (sums matching lines).
inline double metric_value(const std::string& text, const std::string& name, const std::string& label = "") {
  double sum = 0;
  std::size_t pos = 0;
  while ((pos = text.find(name, pos)) != std::string::npos) {
    const std::size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol - pos);
    const bool at_line_start = pos == 0 || text[pos - 1] == '\n';  // not in a # HELP line
    pos = eol == std::string::npos ? text.size() : eol;
    if (!at_line_start || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) continue;
    if (!label.empty() && line.find(label) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace vigil::testing::integration
