// Process-level filelog tests: the real agent tails files that a writer thread rotates, truncates
// and deletes while the agent reads; restarts with a checkpoint; a damaged checkpoint; a thousand
// files; container logs parsed by operators. Every test checks that each line arrives, once.

#include <doctest/doctest.h>
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/process.hpp"

using namespace vigil::testing;
using namespace vigil::testing::integration;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Every "<prefix><n>" for n in [0, count) exactly once; says what is missing or repeated.
void check_exactly_once(const std::vector<Rec>& recs, const std::string& prefix, int count) {
  std::map<int, int> seen;
  int foreign = 0;
  for (const Rec& r : recs) {
    if (r.body.rfind(prefix, 0) != 0) {
      ++foreign;
      continue;
    }
    ++seen[std::stoi(r.body.substr(prefix.size()))];
  }
  int missing = 0, repeated = 0, first_missing = -1, first_repeated = -1;
  for (int i = 0; i < count; ++i) {
    auto it = seen.find(i);
    if (it == seen.end()) {
      if (missing++ == 0) first_missing = i;
    } else if (it->second > 1) {
      if (repeated++ == 0) first_repeated = i;
    }
  }
  INFO("records: " << recs.size() << ", missing: " << missing << " (first " << first_missing
                   << "), repeated: " << repeated << " (first " << first_repeated << "), other bodies: " << foreign);
  CHECK(missing == 0);
  CHECK(repeated == 0);
}

// A filelog agent: filelog/in (the YAML given) -> batch -> file/out, with a file_storage
// extension in `storage_dir` when one is given.
class FilelogAgent {
 public:
  explicit FilelogAgent(const std::string& receiver_body, const std::string& storage_dir = "")
      : out(dir.file("out.jsonl")) {
    std::string components = "receivers:\n  filelog/in:\n" + receiver_body;
    if (!storage_dir.empty()) components += "    storage: file_storage\n";
    components += "processors:\n  batch: {timeout: 50ms}\n"
                  "exporters:\n  file/out: {path: " + out + ", flush_interval: 0}\n";
    const std::string pipelines =
        "  pipelines:\n    logs: {receivers: [filelog/in], processors: [batch], exporters: [file/out]}\n";
    if (storage_dir.empty()) {
      process = std::make_unique<VigilProcess>(components, pipelines);
    } else {
      process = std::make_unique<VigilProcess>(components, pipelines,
                                               "  file_storage: {directory: " + storage_dir + "}\n", ", file_storage");
    }
  }
  void start() { process->start(); }
  void stop() { process->stop(); }
  std::vector<Rec> records() const { return read_records(out); }
  std::string metrics() { return process->metrics(); }
  std::string err() const { return process->proc ? process->proc->err() : ""; }

  TempDir dir;
  std::string out;
  std::unique_ptr<VigilProcess> process;
};

void append_lines(const std::string& path, const std::string& prefix, int from, int to) {
  std::ofstream f(path, std::ios::app);
  for (int i = from; i < to; ++i) f << prefix << i << '\n';
}

bool wait_records(FilelogAgent& agent, std::size_t n, std::chrono::milliseconds timeout = 30s) {
  return eventually([&] { return agent.records().size() >= n; }, timeout);
}

}  // namespace

TEST_CASE("filelog: rename-and-create rotation while a writer writes: every line once") {
  TempDir logs;
  const std::string path = logs.file("app.log");
  write_file(path, "");
  FilelogAgent agent("    include: [" + path + "]\n    start_at: beginning\n    poll_interval: 20ms\n");
  agent.start();
  constexpr int kLines = 20000, kPerFile = 2000;
  std::thread writer([&] {
    for (int i = 0; i < kLines; i += 100) {
      append_lines(path, "rot-", i, i + 100);
      if ((i + 100) % kPerFile == 0) {
        // Rotation like logrotate's default: rename, then a new file at the path. Pause a little
        // longer than the poll interval so the reader sees each generation (two renames within
        // one poll would hide the middle file from any tailer).
        fs::rename(path, path + "." + std::to_string(i / kPerFile));
        write_file(path, "");
        std::this_thread::sleep_for(60ms);
      } else {
        std::this_thread::sleep_for(2ms);
      }
    }
  });
  writer.join();
  CHECK(wait_records(agent, kLines));
  std::this_thread::sleep_for(300ms);  // anything duplicated would arrive by now
  check_exactly_once(agent.records(), "rot-", kLines);
  CHECK(metric_value(agent.metrics(), "vigil_filelog_rotations_total") >= 1);
  agent.stop();
}

TEST_CASE("filelog: copy-and-truncate while a writer writes: every line once") {
  TempDir logs;
  const std::string path = logs.file("app.log");
  write_file(path, "");
  // The glob also matches the copies: the copy of the current file is recognised by its
  // fingerprint, so lines written just before the truncation are read from it, and only once.
  FilelogAgent agent("    include: [" + logs.file("app.log*") + "]\n    start_at: beginning\n    poll_interval: 20ms\n");
  agent.start();
  constexpr int kLines = 10000, kPerFile = 2000;
  std::thread writer([&] {
    for (int i = 0; i < kLines; i += 100) {
      append_lines(path, "cpt-", i, i + 100);
      if ((i + 100) % kPerFile == 0) {
        fs::copy_file(path, path + "." + std::to_string(i / kPerFile));
        fs::resize_file(path, 0);
        std::this_thread::sleep_for(60ms);
      } else {
        std::this_thread::sleep_for(2ms);
      }
    }
  });
  writer.join();
  CHECK(wait_records(agent, kLines));
  std::this_thread::sleep_for(300ms);
  check_exactly_once(agent.records(), "cpt-", kLines);
  CHECK(metric_value(agent.metrics(), "vigil_filelog_file_truncations_total") >= 1);
  agent.stop();
}

TEST_CASE("filelog: truncate and regrow, delete while open, inode reuse, byte-by-byte growth") {
  TempDir logs;
  FilelogAgent agent("    include: [" + logs.file("*.log") + "]\n    start_at: beginning\n    poll_interval: 20ms\n"
                     "    force_flush_period: 200ms\n");
  agent.start();

  // Truncated in place, then written again: the new content is read from offset 0.
  const std::string t = logs.file("trunc.log");
  append_lines(t, "trunc-", 0, 50);
  REQUIRE(eventually([&] { return agent.records().size() >= 50; }, 20s));
  fs::resize_file(t, 0);
  std::this_thread::sleep_for(100ms);
  append_lines(t, "trunc-", 50, 60);

  // Deleted while open after more lines: read to its end first.
  const std::string d = logs.file("deleted.log");
  append_lines(d, "del-", 0, 30);
  REQUIRE(eventually([&] { return agent.records().size() >= 90; }, 20s));
  append_lines(d, "del-", 30, 40);
  fs::remove(d);

  // A new file with other content at a reused path (and likely the same inode).
  const std::string r = logs.file("reuse.log");
  append_lines(r, "reuseA-", 0, 5);
  REQUIRE(eventually([&] { return agent.records().size() >= 105; }, 20s));
  fs::remove(r);
  append_lines(r, "reuseB-", 0, 5);

  // One byte at a time, with a last line that never gets its newline.
  const std::string b = logs.file("bytes.log");
  const std::string text = "byte-0\nbyte-1\nbyte-2";
  for (char c : text) {
    std::ofstream(b, std::ios::app) << c;
    std::this_thread::sleep_for(5ms);
  }

  const bool all = eventually([&] { return agent.records().size() >= 113; }, 20s);
  std::this_thread::sleep_for(400ms);
  auto recs = agent.records();
  std::string got;
  for (const Rec& rec : recs) got += rec.body + " ";
  INFO("received: " << got);
  CHECK(all);
  check_exactly_once(recs, "trunc-", 60);
  check_exactly_once(recs, "del-", 40);
  check_exactly_once(recs, "reuseA-", 5);
  check_exactly_once(recs, "reuseB-", 5);
  check_exactly_once(recs, "byte-", 3);
  agent.stop();
}

TEST_CASE("filelog: a restart with file_storage resumes exactly where the first run stopped") {
  TempDir logs, storage;
  const std::string path = logs.file("big.log");
  constexpr int kFirst = 300000, kSecond = 1000;
  append_lines(path, "big-", 0, kFirst);
  const std::string body = "    include: [" + path + "]\n    start_at: beginning\n";
  std::size_t first_run = 0;
  std::vector<Rec> all;
  {
    FilelogAgent agent(body, storage.path());
    agent.start();
    // Stop as soon as something arrived: most likely in the middle of the file.
    REQUIRE(eventually([&] { return !agent.records().empty(); }, 30s));
    agent.stop();
    all = agent.records();
    first_run = all.size();
  }
  append_lines(path, "big-", kFirst, kFirst + kSecond);
  {
    FilelogAgent agent(body, storage.path());
    agent.start();
    const std::size_t want = kFirst + kSecond - first_run;
    CHECK(wait_records(agent, want, 60s));
    std::this_thread::sleep_for(300ms);
    agent.stop();
    auto second = agent.records();
    MESSAGE("first run " << first_run << " records, second run " << second.size());
    all.insert(all.end(), second.begin(), second.end());
  }
  check_exactly_once(all, "big-", kFirst + kSecond);
}

TEST_CASE("filelog: a damaged checkpoint is reported and ignored; files are read from start_at") {
  TempDir logs, storage;
  const std::string path = logs.file("app.log");
  append_lines(path, "ck-", 0, 100);
  const std::string body = "    include: [" + path + "]\n    start_at: beginning\n";
  {
    FilelogAgent agent(body, storage.path());
    agent.start();
    REQUIRE(wait_records(agent, 100));
    agent.stop();
  }
  // Damage every file the storage holds: truncated, then garbage.
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(storage.path()))
    if (e.is_regular_file()) files.push_back(e.path());
  REQUIRE(!files.empty());
  for (const char* damage : {"truncate", "garbage"}) {
    CAPTURE(damage);
    for (const auto& f : files) {
      if (std::string(damage) == "truncate") {
        fs::resize_file(f, fs::file_size(f) / 2);
      } else {
        write_file(f.string(), "this is not a checkpoint \xff\xfe");
      }
    }
    FilelogAgent agent(body, storage.path());
    agent.start();
    CHECK(wait_records(agent, 100));
    std::this_thread::sleep_for(200ms);
    check_exactly_once(agent.records(), "ck-", 100);  // read again from the beginning, once
    CHECK(agent.err().find("checkpoint is damaged") != std::string::npos);
    CHECK(metric_value(agent.metrics(), "vigil_filelog_checkpoint_errors_total") >= 1);
    agent.stop();
  }
}

TEST_CASE("filelog: a thousand files in one glob, files appearing and disappearing") {
  TempDir logs;
  constexpr int kFiles = 1000, kPer = 5;
  for (int f = 0; f < kFiles; ++f) {
    const std::string sub = logs.file("pod-" + std::to_string(f % 10));
    fs::create_directories(sub);
    std::ofstream out(sub + "/c" + std::to_string(f) + ".log");
    for (int i = 0; i < kPer; ++i) out << "f" << f << "-" << i << '\n';
  }
  FilelogAgent agent("    include: [" + logs.path() + "/**/*.log]\n    start_at: beginning\n    poll_interval: 50ms\n"
                     "    max_concurrent_files: 300\n");
  agent.start();
  CHECK(wait_records(agent, kFiles * kPer, 60s));
  // Half of them go away, new ones appear.
  for (int f = 0; f < kFiles; f += 2) fs::remove(logs.file("pod-" + std::to_string(f % 10) + "/c" + std::to_string(f) + ".log"));
  for (int f = 0; f < 100; ++f) append_lines(logs.file("pod-new-" + std::to_string(f) + ".log"), "new" + std::to_string(f) + "-", 0, 3);
  CHECK(wait_records(agent, kFiles * kPer + 300, 60s));
  std::this_thread::sleep_for(300ms);
  auto recs = agent.records();
  CHECK(recs.size() == static_cast<std::size_t>(kFiles * kPer + 300));
  std::set<std::string> bodies;
  for (const Rec& r : recs) bodies.insert(r.body);
  CHECK(bodies.size() == recs.size());
  agent.stop();
}

TEST_CASE("filelog: container logs parsed by operators; a stack trace recombined; k8s resource attributes") {
  TempDir root;
  const std::string pod_dir = root.path() + "/var/log/pods/shop_checkout-7d9f_0f1e2d3c-aaaa-bbbb/app";
  fs::create_directories(pod_dir);
  const std::string cri = pod_dir + "/0.log";
  // CRI lines: stdout and stderr interleaved, one stdout line split in P + F parts.
  write_file(cri,
             "2026-11-22T10:00:00.000000001Z stdout P {\"level\":\"info\",\"msg\":\"order \n"
             "2026-11-22T10:00:00.000000002Z stderr F {\"level\":\"error\",\"msg\":\"webhook failed\"}\n"
             "2026-11-22T10:00:00.000000003Z stdout F created\",\"order_id\":\"ord-1\"}\n");
  const std::string plain = root.file("java.log");
  write_file(plain,
             "2026-11-22 10:00:00 ERROR boom\n"
             "java.lang.IllegalStateException: no stock\n"
             "\tat shop.Orders.create(Orders.java:42)\n"
             "\tat shop.Api.post(Api.java:7)\n"
             "2026-11-22 10:00:01 INFO next\n");
  TempDir out_dir;
  const std::string out = out_dir.file("out.jsonl");
  const std::string components =
      "receivers:\n"
      "  filelog/pods:\n"
      "    include: [" + root.path() + "/var/log/pods/*/*/*.log]\n"
      "    start_at: beginning\n"
      "    operators:\n"
      "      - type: container\n"
      "      - type: json_parser\n"
      "        parse_from: body\n"
      "        parse_to: attributes\n"
      "        severity: {parse_from: attributes.level}\n"
      "  filelog/java:\n"
      "    include: [" + plain + "]\n"
      "    start_at: beginning\n"
      "    force_flush_period: 100ms\n"
      "    multiline: {line_start_pattern: '^\\d{4}-\\d{2}-\\d{2} '}\n"
      "processors:\n  batch: {timeout: 50ms}\n"
      "exporters:\n  file/out: {path: " + out + ", flush_interval: 0}\n";
  VigilProcess agent(components,
                     "  pipelines:\n    logs: {receivers: [filelog/pods, filelog/java], processors: [batch], "
                     "exporters: [file/out]}\n");
  agent.start();
  REQUIRE(eventually([&] { return read_records(out).size() >= 4; }, 20s));
  std::this_thread::sleep_for(300ms);
  auto recs = read_records(out);
  CHECK(recs.size() == 4);
  const Rec* order = nullptr;
  const Rec* webhook = nullptr;
  const Rec* trace = nullptr;
  for (const Rec& r : recs) {
    if (r.attrs.count("order_id")) order = &r;
    if (r.attrs.count("msg") && r.attrs.at("msg") == "webhook failed") webhook = &r;
    if (r.body.find("IllegalStateException") != std::string::npos) trace = &r;
  }
  REQUIRE(order != nullptr);
  CHECK(order->attrs.at("msg") == "order created");
  CHECK(order->attrs.at("log.iostream") == "stdout");
  CHECK(order->severity == 9);  // INFO
  CHECK(order->resource.at("k8s.namespace.name") == "shop");
  CHECK(order->resource.at("k8s.pod.name") == "checkout-7d9f");
  CHECK(order->resource.at("k8s.pod.uid") == "0f1e2d3c-aaaa-bbbb");
  CHECK(order->resource.at("k8s.container.name") == "app");
  CHECK(order->resource.at("k8s.container.restart_count") == "0");
  // The time of the first or the last part (the Collector's container parser keeps one of them).
  CHECK((order->time == 1795341600000000001ULL || order->time == 1795341600000000003ULL));
  REQUIRE(webhook != nullptr);
  CHECK(webhook->attrs.at("log.iostream") == "stderr");
  CHECK(webhook->severity == 17);  // ERROR
  REQUIRE(trace != nullptr);
  CHECK(trace->body ==
        "2026-11-22 10:00:00 ERROR boom\njava.lang.IllegalStateException: no stock\n"
        "\tat shop.Orders.create(Orders.java:42)\n\tat shop.Api.post(Api.java:7)");
  agent.stop();
}

TEST_CASE("filelog: an operator type Vigil does not have is a config error naming it") {
  TempDir dir;
  const std::string cfg = dir.file("vigil.yaml");
  write_file(cfg,
             "receivers:\n  filelog:\n    include: [/tmp/none.log]\n    operators:\n      - type: key_value_parser\n"
             "exporters:\n  debug: {}\n"
             "service:\n  pipelines:\n    logs: {receivers: [filelog], exporters: [debug]}\n");
  std::string out, err;
  const int rc = run({VIGIL_BINARY, "validate", "--config", cfg}, out, err);
  CHECK(rc != 0);
  CHECK((out + err).find("key_value_parser") != std::string::npos);
}
