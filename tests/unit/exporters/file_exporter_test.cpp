#include "exporters/file/file_exporter.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/telemetry/telemetry.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/unit/exporters/exporter_test_support.hpp"
#include "tests/support/test_batches.hpp"

using namespace vigil;
using exporters::testing::map;
using exporters::testing::scalar;
namespace fs = std::filesystem;
namespace mt = vigil::model::testing;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-file-exporter-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Log records in one OTLP/JSON line (fails the test when the line is not valid JSON).
std::size_t json_log_records(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element root;
  REQUIRE(parser.parse(line).get(root) == simdjson::SUCCESS);
  std::size_t n = 0;
  simdjson::dom::array rls;
  if (root["resourceLogs"].get(rls) != simdjson::SUCCESS) return 0;
  for (auto rl : rls) {
    simdjson::dom::array sls;
    if (rl["scopeLogs"].get(sls) != simdjson::SUCCESS) continue;
    for (auto sl : sls) {
      simdjson::dom::array recs;
      if (sl["logRecords"].get(recs) == simdjson::SUCCESS) n += recs.size();
    }
  }
  return n;
}

struct Made {
  component::Factory factory = exporters::file_exporter_factory();
  config::Value node;
  telemetry::Telemetry tel;
  std::unique_ptr<component::Sender> sender;
};

std::unique_ptr<Made> make(config::Value node, model::Signal signal = model::Signal::kLogs,
                           const std::string& id = "file") {
  auto m = std::make_unique<Made>();
  m->node = std::move(node);
  config::Errors errors;
  config::validate(m->factory.schema, &m->node, {}, id, errors);
  for (const auto& e : errors) FAIL_CHECK(e.message);
  config::Settings settings(&m->factory.schema, &m->node, {});
  component::CreateSettings cs{id, settings, m->tel, ""};
  m->sender = m->factory.create_exporter(cs, signal);
  return m;
}

// vigil_exporter_send_failed_<items>_total{exporter=id,reason="write_failed"}.
double write_failed(Made& m, model::Signal signal = model::Signal::kLogs, const std::string& id = "file") {
  return m.tel.exporter(id, signal).send_failed("write_failed").Value();
}

// A log batch of one record carrying `pad_bytes` of attribute data.
model::Batch padded_logs(std::size_t pad_bytes, std::uint64_t first = 0) {
  model::Batch b = mt::make_logs({{1}}, first);
  model::LogRecord& r = b.resource_logs()[0].scope_logs[0].log_records[0];
  const std::string pad(pad_bytes, 'x');
  r.attributes.push_back(b.arena(), {b.arena().copy("pad"), model::AnyValue::string(b.arena().copy(pad))});
  return b;
}

// Lowers the process's file size limit (RLIMIT_FSIZE) for the scope, so that writes to a real
// file stop part way like on a full disk: a short write, then EFBIG (SIGXFSZ is ignored).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit r = old_;
    r.rlim_cur = r.rlim_max == RLIM_INFINITY ? bytes : std::min(bytes, r.rlim_max);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &r) == 0);
  }
  ~FileSizeLimit() { lift(); }
  void lift() {
    if (lifted_) return;
    lifted_ = true;
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
  bool lifted_ = false;
};

// Splits length-prefixed proto records; fails the test on a broken frame.
std::vector<opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest> proto_records(
    const std::string& data, std::size_t pos = 0) {
  std::vector<opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest> requests;
  while (pos < data.size()) {
    REQUIRE(pos + 4 <= data.size());
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    const std::size_t len =
        (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    pos += 4;
    REQUIRE(pos + len <= data.size());
    requests.emplace_back();
    REQUIRE(requests.back().ParseFromArray(data.data() + pos, static_cast<int>(len)));
    pos += len;
  }
  return requests;
}

}  // namespace

TEST_CASE("file exporter: N batches become N OTLP/JSON lines") {
  TempDir dir;
  const fs::path path = dir.path / "out.json";
  auto m = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("0")}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  const std::vector<std::vector<std::vector<int>>> shapes = {{{1}}, {{2, 3}}, {{1}, {4}}, {{}}, {{7}}};
  for (const auto& shape : shapes) CHECK(m->sender->send(mt::make_logs(shape)).is_ok());
  // flush_interval 0: on disk before shutdown.
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == shapes.size());
  m->sender->shutdown({});
  m->sender->shutdown({});  // idempotent

  std::string content = read_file(path);
  CHECK(content.back() == '\n');
  lines = lines_of(content);
  REQUIRE(lines.size() == 5);
  simdjson::dom::parser parser;
  CHECK(json_log_records(parser, lines[0]) == 1);
  CHECK(json_log_records(parser, lines[1]) == 5);
  CHECK(json_log_records(parser, lines[2]) == 5);
  CHECK(json_log_records(parser, lines[3]) == 0);
  CHECK(json_log_records(parser, lines[4]) == 7);
}

TEST_CASE("file exporter: flush_interval buffers, then writes in the background and at shutdown") {
  TempDir dir;
  const fs::path path = dir.path / "buffered.json";
  {
    auto m = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("1h")}}));
    exporters::testing::UnusedHost host;
    REQUIRE(m->sender->start(host).is_ok());
    CHECK(m->sender->send(mt::make_logs({{2}})).is_ok());
    CHECK(read_file(path).empty());  // still buffered
    m->sender->shutdown({});
    CHECK(lines_of(read_file(path)).size() == 1);
  }
  {
    auto m = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("20ms")}}));
    exporters::testing::UnusedHost host;
    REQUIRE(m->sender->start(host).is_ok());
    CHECK(m->sender->send(mt::make_logs({{2}})).is_ok());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (lines_of(read_file(path)).size() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(lines_of(read_file(path)).size() == 2);  // appended to the existing file
    m->sender->shutdown({});
  }
}

TEST_CASE("file exporter: proto format is length-prefixed export requests") {
  TempDir dir;
  const fs::path path = dir.path / "out.pb";
  auto m = make(map({{"path", scalar(path.string())}, {"format", scalar("proto")}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  CHECK(m->sender->send(mt::make_logs({{2}, {1}})).is_ok());
  CHECK(m->sender->send(mt::full_logs()).is_ok());
  CHECK(m->sender->send(mt::make_logs({{4}}, 10)).is_ok());
  m->sender->shutdown({});

  const std::string data = read_file(path);
  std::vector<opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest> requests;
  std::size_t pos = 0;
  while (pos < data.size()) {
    REQUIRE(pos + 4 <= data.size());
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    const std::size_t len =
        (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    pos += 4;
    REQUIRE(pos + len <= data.size());
    requests.emplace_back();
    REQUIRE(requests.back().ParseFromArray(data.data() + pos, static_cast<int>(len)));
    pos += len;
  }
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].resource_logs_size() == 2);
  CHECK(requests[0].resource_logs(0).scope_logs(0).log_records_size() == 2);
  CHECK(requests[0].resource_logs(1).scope_logs(0).log_records(0).body().string_value() == "rec-2");
  const auto& rec = requests[1].resource_logs(0).scope_logs(0).log_records(0);
  CHECK(rec.time_unix_nano() == 1700000000123456789ULL);
  CHECK(rec.severity_text() == "ERROR");
  CHECK(rec.trace_id().size() == 16);
  CHECK(requests[2].resource_logs(0).scope_logs(0).log_records(3).body().string_value() == "rec-13");
}

TEST_CASE("file exporter: senders of one path share the file (traces and logs)") {
  TempDir dir;
  const fs::path path = dir.path / "all.json";
  auto logs =
      make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("0")}}), model::Signal::kLogs);
  auto traces =
      make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("0")}}), model::Signal::kTraces);
  exporters::testing::UnusedHost host;
  REQUIRE(logs->sender->start(host).is_ok());
  REQUIRE(traces->sender->start(host).is_ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (t % 2 == 0)
          CHECK(logs->sender->send(mt::make_logs({{3}})).is_ok());
        else
          CHECK(traces->sender->send(mt::full_traces()).is_ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  logs->sender->shutdown({});
  // The traces sender still writes after the logs sender has gone.
  CHECK(traces->sender->send(mt::full_traces()).is_ok());
  traces->sender->shutdown({});
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == 101);
  simdjson::dom::parser parser;
  int log_lines = 0, trace_lines = 0;
  for (const auto& line : lines) {
    simdjson::dom::element root;
    REQUIRE(parser.parse(line).get(root) == simdjson::SUCCESS);
    if (root["resourceLogs"].error() == simdjson::SUCCESS) ++log_lines;
    if (root["resourceSpans"].error() == simdjson::SUCCESS) ++trace_lines;
  }
  CHECK(log_lines == 50);
  CHECK(trace_lines == 51);
}

TEST_CASE("file exporter: rotation keeps max_backups and never splits a record") {
  TempDir dir;
  const fs::path path = dir.path / "rotating.json";
  auto m = make(map({{"path", scalar(path.string())},
                     {"flush_interval", scalar("0")},
                     {"rotation", map({{"max_megabytes", scalar("1")}, {"max_backups", scalar("2")}})}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  // 14 records of ~300 KB: at most 3 per 1 MiB file, so at least 4 rotations.
  const std::string big(300 * 1024, 'x');
  for (int i = 0; i < 14; ++i) {
    model::Batch b = mt::make_logs({{1}}, static_cast<std::uint64_t>(i));
    model::LogRecord& r = b.resource_logs()[0].scope_logs[0].log_records[0];
    r.attributes.push_back(b.arena(), {b.arena().copy("pad"), model::AnyValue::string(b.arena().copy(big))});
    REQUIRE(m->sender->send(b).is_ok());
  }
  m->sender->shutdown({});

  std::vector<fs::path> backups;
  const std::regex name(R"(rotating-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.json)");
  for (const auto& e : fs::directory_iterator(dir.path)) {
    if (e.path() == path) continue;
    CHECK_MESSAGE(std::regex_match(e.path().filename().string(), name), e.path().string());
    backups.push_back(e.path());
  }
  CHECK(backups.size() == 2);
  std::sort(backups.begin(), backups.end());
  simdjson::dom::parser parser;
  std::vector<std::uint64_t> seen;
  for (const fs::path& f : {backups[0], backups[1], path}) {
    const std::string content = read_file(f);
    CHECK(content.size() <= (1u << 20));
    for (const auto& line : lines_of(content)) {
      simdjson::dom::element root;
      REQUIRE(parser.parse(line).get(root) == simdjson::SUCCESS);
      std::string_view t;
      REQUIRE(root.at_pointer("/resourceLogs/0/scopeLogs/0/logRecords/0/body/stringValue").get(t) ==
              simdjson::SUCCESS);
      seen.push_back(std::stoull(std::string(t.substr(4))));
    }
  }
  // The newest records survive, in order, ending with the last one sent.
  REQUIRE(!seen.empty());
  CHECK(seen.back() == 13);
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] == seen[i - 1] + 1);
  CHECK(seen.size() >= 7);  // two full backups (3 each) plus the active file
}

TEST_CASE("file exporter: options and errors") {
  component::Factory f = exporters::file_exporter_factory();
  CHECK(f.kind == component::Kind::kExporter);
  CHECK(f.type == "file");
  CHECK_FALSE(f.exporter_queue);
  CHECK(f.supports(model::Signal::kTraces));
  CHECK(f.supports(model::Signal::kMetrics));
  CHECK(f.supports(model::Signal::kLogs));

  SUBCASE("path is required") {
    config::Value node = map({{"format", scalar("json")}});
    config::Errors errors;
    config::validate(f.schema, &node, {}, "file", errors);
    CHECK(errors.size() == 1);
  }
  SUBCASE("unknown format is an error") {
    config::Value node = map({{"path", scalar("/tmp/x")}, {"format", scalar("xml")}});
    config::Errors errors;
    config::validate(f.schema, &node, {}, "file", errors);
    CHECK(errors.size() == 1);
  }
  SUBCASE("defaults; rotation only when present") {
    config::Value node = map({{"path", scalar("/tmp/x.json")}});
    config::Settings s(&f.schema, &node, {});
    auto o = exporters::read_file_exporter_options(s);
    CHECK(o.path == "/tmp/x.json");
    CHECK(o.format == exporters::FileExporterOptions::Format::kJson);
    CHECK_FALSE(o.rotation);
    CHECK(o.flush_interval == std::chrono::seconds(1));

    config::Value with = map({{"path", scalar("/tmp/x.json")}, {"rotation", map({})}});
    config::Settings s2(&f.schema, &with, {});
    auto o2 = exporters::read_file_exporter_options(s2);
    CHECK(o2.rotation);
    CHECK(o2.max_megabytes == 100);
    CHECK(o2.max_backups == 100);
  }
  SUBCASE("a missing folder fails start with a permanent error") {
    auto m = make(map({{"path", scalar("/nonexistent-vigil-dir/sub/out.json")}}));
    exporters::testing::UnusedHost host;
    component::Status s = m->sender->start(host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("/nonexistent-vigil-dir/sub/out.json") != std::string::npos);
    CHECK(s.message().find("folder must exist") != std::string::npos);
    m->sender->shutdown({});  // safe after a failed start
  }
  SUBCASE("shutdown without start is safe; send before start is refused") {
    auto m = make(map({{"path", scalar("/tmp/vigil-never-opened.json")}}));
    CHECK(m->sender->send(mt::make_logs({{1}})).is_permanent());
    m->sender->shutdown({});
    CHECK_FALSE(fs::exists("/tmp/vigil-never-opened.json"));
  }
}

TEST_CASE("file exporter: backup names") {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1700000000123)};
  CHECK(exporters::file_backup_name("/var/log/out.json", t) == "/var/log/out-2023-11-14T22-13-20.123.json");
  CHECK(exporters::file_backup_name("data", t) == "data-2023-11-14T22-13-20.123");
  CHECK(exporters::file_backup_name("dir/a.b.pb", t) == "dir/a.b-2023-11-14T22-13-20.123.pb");
}

TEST_CASE("file exporter: a failed background flush counts the buffered items as dropped") {
  if (!fs::exists("/dev/full")) {
    MESSAGE("no /dev/full; skipped");
    return;
  }
  exporters::testing::UnusedHost host;
  {
    // Accepted (send is OK), then lost when the timer's write fails: counted, not silent.
    auto m = make(map({{"path", scalar("/dev/full")}, {"flush_interval", scalar("10ms")}}));
    REQUIRE(m->sender->start(host).is_ok());
    CHECK(m->sender->send(mt::make_logs({{2}})).is_ok());
    CHECK(m->sender->send(mt::make_logs({{1, 3}})).is_ok());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (write_failed(*m) < 6 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(write_failed(*m) == 6);
    m->sender->shutdown({});
    CHECK(write_failed(*m) == 6);  // nothing counted twice
  }
  {
    // Lost in the final flush at shutdown: counted too.
    auto m = make(map({{"path", scalar("/dev/full")}, {"flush_interval", scalar("1h")}}),
                  model::Signal::kLogs, "file/shutdown");
    REQUIRE(m->sender->start(host).is_ok());
    CHECK(m->sender->send(mt::make_logs({{4}})).is_ok());
    CHECK(write_failed(*m, model::Signal::kLogs, "file/shutdown") == 0);
    m->sender->shutdown({});
    CHECK(write_failed(*m, model::Signal::kLogs, "file/shutdown") == 4);
  }
  {
    // flush_interval 0: the send itself fails (retryable: the disk may free up); its own items
    // are the caller's to count, not write_failed's.
    auto m = make(map({{"path", scalar("/dev/full")}, {"flush_interval", scalar("0")}}),
                  model::Signal::kLogs, "file/sync");
    REQUIRE(m->sender->start(host).is_ok());
    component::Status s = m->sender->send(mt::make_logs({{3}}));
    CHECK(s.is_retryable());
    CHECK(s.message().find("/dev/full") != std::string::npos);
    m->sender->shutdown({});
    CHECK(write_failed(*m, model::Signal::kLogs, "file/sync") == 0);
  }
}

TEST_CASE("file exporter: a failed write leaves no partial record (proto framing stays intact)") {
  TempDir dir;
  const fs::path path = dir.path / "out.pb";
  auto m = make(map({{"path", scalar(path.string())}, {"format", scalar("proto")}, {"flush_interval", scalar("0")}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  REQUIRE(m->sender->send(mt::make_logs({{1}}, 0)).is_ok());
  const auto good_size = fs::file_size(path);
  {
    FileSizeLimit limit(good_size + 10);  // room for the length prefix and a few bytes only
    CHECK_FALSE(m->sender->send(mt::make_logs({{50}}, 100)).is_ok());
    CHECK(fs::file_size(path) == good_size);
  }
  REQUIRE(m->sender->send(mt::make_logs({{2}}, 200)).is_ok());
  m->sender->shutdown({});
  CHECK(write_failed(*m) == 0);  // the failed batch was its caller's, nothing buffered was lost

  auto requests = proto_records(read_file(path));
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].resource_logs(0).scope_logs(0).log_records_size() == 1);
  CHECK(requests[1].resource_logs(0).scope_logs(0).log_records_size() == 2);
  CHECK(requests[1].resource_logs(0).scope_logs(0).log_records(0).body().string_value() == "rec-200");
}

TEST_CASE("file exporter: a send whose write fails counts the earlier buffered records it lost") {
  TempDir dir;
  const fs::path path = dir.path / "buffered.json";
  auto m = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("1h")}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  for (int i = 0; i < 4; ++i) REQUIRE(m->sender->send(mt::make_logs({{2}})).is_ok());  // 8 records buffered
  CHECK(read_file(path).empty());
  {
    FileSizeLimit limit(1000);
    // More than 1 MiB: written at once, together with the 4 buffered batches; the write fails.
    CHECK_FALSE(m->sender->send(padded_logs((1u << 20) + 1000)).is_ok());
    CHECK(fs::file_size(path) == 0);  // no partial record left behind
  }
  CHECK(write_failed(*m) == 8);  // the other sends' records; the failing send's own is its caller's
  REQUIRE(m->sender->send(mt::make_logs({{1}}, 50)).is_ok());
  m->sender->shutdown({});
  CHECK(write_failed(*m) == 8);
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == 1);
  simdjson::dom::parser parser;
  CHECK(json_log_records(parser, lines[0]) == 1);
}

TEST_CASE("file exporter: a failed write before rotation neither keeps nor repeats the refused record") {
  TempDir dir;
  const fs::path path = dir.path / "rot.json";
  auto m = make(map({{"path", scalar(path.string())},
                     {"flush_interval", scalar("1h")},
                     {"rotation", map({{"max_megabytes", scalar("1")}})}}));
  exporters::testing::UnusedHost host;
  REQUIRE(m->sender->start(host).is_ok());
  for (int i = 0; i < 3; ++i) REQUIRE(m->sender->send(padded_logs(300 * 1024, i)).is_ok());  // ~900 KB buffered
  {
    FileSizeLimit limit(100 * 1024);
    // The 4th would pass 1 MiB: the 3 buffered ones are written first to finish the file; that fails.
    CHECK_FALSE(m->sender->send(padded_logs(300 * 1024, 3)).is_ok());
    CHECK(fs::file_size(path) == 0);
  }
  CHECK(write_failed(*m) == 3);
  REQUIRE(m->sender->send(padded_logs(10, 4)).is_ok());
  m->sender->shutdown({});
  CHECK(write_failed(*m) == 3);

  // Only the record sent afterwards is in the file: the refused one was not written later.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
  auto lines = lines_of(read_file(path));
  REQUIRE(lines.size() == 1);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(lines[0]).get(root) == simdjson::SUCCESS);
  std::string_view body;
  REQUIRE(root.at_pointer("/resourceLogs/0/scopeLogs/0/logRecords/0/body/stringValue").get(body) ==
          simdjson::SUCCESS);
  CHECK(body == "rec-4");
}

TEST_CASE("file exporter: a reload with new options for the same path uses the new options") {
  TempDir dir;
  const fs::path path = dir.path / "reload.out";
  exporters::testing::UnusedHost host;
  // The old config's sender is shut down (not yet destroyed) before the new one starts.
  auto old_config = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("0")}}));
  REQUIRE(old_config->sender->start(host).is_ok());
  REQUIRE(old_config->sender->send(mt::make_logs({{1}}, 0)).is_ok());
  old_config->sender->shutdown({});

  auto new_config = make(
      map({{"path", scalar(path.string())}, {"format", scalar("proto")}, {"flush_interval", scalar("0")}}));
  REQUIRE(new_config->sender->start(host).is_ok());
  REQUIRE(new_config->sender->send(mt::make_logs({{3}}, 10)).is_ok());
  CHECK(old_config->sender->send(mt::make_logs({{1}})).is_permanent());  // shut down for good
  new_config->sender->shutdown({});

  const std::string data = read_file(path);
  const std::size_t eol = data.find('\n');
  REQUIRE(eol != std::string::npos);
  simdjson::dom::parser parser;
  CHECK(json_log_records(parser, data.substr(0, eol)) == 1);
  auto requests = proto_records(data, eol + 1);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].resource_logs(0).scope_logs(0).log_records_size() == 3);
}

TEST_CASE("file exporter: two exporters on one path must have the same options") {
  TempDir dir;
  const fs::path path = dir.path / "shared.json";
  exporters::testing::UnusedHost host;
  auto a = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("0")}}), model::Signal::kLogs,
                "file/a");
  auto b = make(map({{"path", scalar(path.string())}, {"flush_interval", scalar("5s")}}), model::Signal::kLogs,
                "file/b");
  // Same options, spelt differently (./ and a default made explicit): shares the file.
  auto c = make(map({{"path", scalar((dir.path / "." / "shared.json").string())},
                     {"format", scalar("json")},
                     {"flush_interval", scalar("0s")}}),
                model::Signal::kTraces, "file/c");
  REQUIRE(a->sender->start(host).is_ok());
  component::Status s = b->sender->start(host);
  CHECK(s.is_permanent());
  CHECK(s.message().find("file/b") != std::string::npos);
  CHECK(s.message().find(path.string()) != std::string::npos);
  CHECK(s.message().find("different options") != std::string::npos);
  b->sender->shutdown({});  // safe after the failed start
  REQUIRE(c->sender->start(host).is_ok());
  CHECK(a->sender->send(mt::make_logs({{1}})).is_ok());
  CHECK(c->sender->send(mt::full_traces()).is_ok());
  CHECK(lines_of(read_file(path)).size() == 2);
  a->sender->shutdown({});
  c->sender->shutdown({});
  // Once nobody writes the path, other options are fine.
  REQUIRE(b->sender->start(host).is_ok());
  b->sender->shutdown({});
}
