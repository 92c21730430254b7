// The filelog receiver as a component: config checks, records it builds, backpressure (refused
// batches are read again), permanent refusals, and checkpoints through a storage extension.

#include <doctest/doctest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "collectors/filelog/filelog_receiver.hpp"
#include "tests/support/config_test_support.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/runtime_test_support.hpp"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using collectors::FilelogReceiver;
using component::Status;
using FakeHost = runtime_fakes::FakeHost;
using http_fakes::counter_value;

struct Seen {
  std::string body;
  std::map<std::string, std::string> attrs;
  std::map<std::string, std::string> resource;
};

std::string text_of(const model::AnyValue& v) {
  switch (v.type()) {
    case model::ValueType::kString: return std::string(v.string_value());
    case model::ValueType::kBool: return v.bool_value() ? "true" : "false";
    case model::ValueType::kInt: return std::to_string(v.int_value());
    default: return "<other>";
  }
}

// Records every record; answers from a script (then Ok).
class ScriptedConsumer : public component::Consumer {
 public:
  Status consume(model::Batch&& b) override {
    std::lock_guard lock(mu);
    ++calls;
    Status answer;
    if (!script.empty()) {
      answer = script.front();
      script.pop_front();
    }
    if (answer.is_ok()) {
      for (const auto& rl : b.resource_logs()) {
        std::map<std::string, std::string> res;
        for (const auto& kv : rl.resource.attributes) res[std::string(kv.key)] = text_of(kv.value);
        for (const auto& sl : rl.scope_logs) {
          for (const auto& r : sl.log_records) {
            Seen s{std::string(r.body.string_value()), {}, res};
            for (const auto& kv : r.attributes) s.attrs[std::string(kv.key)] = text_of(kv.value);
            seen.push_back(std::move(s));
          }
        }
      }
    }
    cv.notify_all();
    return answer;
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return seen.size();
  }
  std::vector<Seen> all() {
    std::lock_guard lock(mu);
    return seen;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Status> script;
  std::vector<Seen> seen;
  int calls = 0;
};

// An in-memory storage extension shared across receiver instances (a "restart").
class MemoryStorage : public component::Extension, public component::StorageExtension {
 public:
  class Client : public component::StorageClient {
   public:
    explicit Client(std::map<std::string, std::string>& data) : data_(data) {}
    Status get(std::string_view key, std::optional<std::string>& value) override {
      auto it = data_.find(std::string(key));
      value = it == data_.end() ? std::nullopt : std::optional<std::string>(it->second);
      return Status::ok();
    }
    Status set(std::string_view key, std::string_view value) override {
      data_[std::string(key)] = std::string(value);
      return Status::ok();
    }
    Status remove(std::string_view key) override {
      data_.erase(std::string(key));
      return Status::ok();
    }

   private:
    std::map<std::string, std::string>& data_;
  };
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  std::unique_ptr<component::StorageClient> client(component::Kind, std::string_view id, std::string_view,
                                                   std::string&) override {
    return std::make_unique<Client>(data[std::string(id)]);
  }
  std::map<std::string, std::map<std::string, std::string>> data;
};

class StorageHost : public runtime_fakes::FakeHost {
 public:
  explicit StorageHost(MemoryStorage* storage) : storage_(storage) {}
  component::Extension* extension(std::string_view id) override {
    return id == "memory" ? storage_ : nullptr;
  }

 private:
  MemoryStorage* storage_;
};

class LogDir {
 public:
  LogDir() : path_(fs::temp_directory_path() / ("vigil-filelog-rcv-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(counter()++))) {
    fs::create_directories(path_);
  }
  ~LogDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  void append(const std::string& name, const std::string& prefix, int from, int to) const {
    std::ofstream f(file(name), std::ios::app);
    for (int i = from; i < to; ++i) f << prefix << i << '\n';
  }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  fs::path path_;
};

collectors::FilelogOptions options_for(const std::string& glob) {
  collectors::FilelogOptions o;
  o.tailer.include = {glob};
  o.tailer.start_at_beginning = true;
  o.poll_interval = std::chrono::milliseconds(10);
  return o;
}

void check_each_once(const std::vector<Seen>& seen, const std::string& prefix, int n) {
  std::map<std::string, int> count;
  for (const Seen& s : seen) ++count[s.body];
  for (int i = 0; i < n; ++i) {
    const std::string body = prefix + std::to_string(i);
    CAPTURE(body);
    CHECK(count[body] == 1);
  }
  CHECK(seen.size() == static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("filelog receiver: records carry the file name, configured attributes and resource") {
  LogDir dir;
  dir.append("app.log", "line-", 0, 3);
  auto o = options_for(dir.file("*.log"));
  o.include_file_path = true;
  o.attributes = {{"team", "shop"}};
  o.resource = {{"service.name", "checkout"}};
  o.tailer.max_log_size = 8;
  {
    std::ofstream f(dir.file("app.log"), std::ios::app);
    f << "0123456789abcdef\n";  // 16 bytes: cut at max_log_size
  }
  ScriptedConsumer next;
  runtime_fakes::FakeHost host;
  FilelogReceiver rcv("filelog", o, {}, next, host.telemetry());
  REQUIRE(rcv.start(host).is_ok());
  REQUIRE(eventually([&] { return next.count() >= 4; }));
  rcv.shutdown(component::Clock::now());
  auto seen = next.all();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].body == "line-0");
  CHECK(seen[0].attrs["log.file.name"] == "app.log");
  CHECK(seen[0].attrs["log.file.path"] == dir.file("app.log"));
  CHECK(seen[0].attrs["team"] == "shop");
  CHECK(seen[0].resource["service.name"] == "checkout");
  CHECK(seen[0].attrs.count("vigil.truncated") == 0);
  CHECK(seen[3].body == "01234567");
  CHECK(seen[3].attrs["vigil.truncated"] == "true");
}

TEST_CASE("filelog receiver: a batch refused for now is read again; nothing lost or repeated") {
  LogDir dir;
  dir.append("app.log", "bp-", 0, 500);
  ScriptedConsumer next;
  next.script = {Status::retryable("busy", std::chrono::milliseconds(1)), Status::retryable("busy"),
                 Status::retryable("busy")};
  runtime_fakes::FakeHost host;
  FilelogReceiver rcv("filelog", options_for(dir.file("app.log")), {}, next, host.telemetry());
  REQUIRE(rcv.start(host).is_ok());
  REQUIRE(eventually([&] { return next.count() >= 500; }, std::chrono::milliseconds(20000)));
  dir.append("app.log", "bp-", 500, 600);
  REQUIRE(eventually([&] { return next.count() >= 600; }, std::chrono::milliseconds(20000)));
  rcv.shutdown(component::Clock::now());
  check_each_once(next.all(), "bp-", 600);
  CHECK(next.calls >= 4);
  CHECK(counter_value(host.telemetry(), "vigil_receiver_refused_log_records_total",
                      {{"receiver", "filelog"}, {"transport", "file"}}) >= 500);
}

TEST_CASE("filelog receiver: a permanent refusal is counted and the files move on") {
  LogDir dir;
  dir.append("app.log", "perm-", 0, 10);
  ScriptedConsumer next;
  next.script = {Status::permanent("bad data")};
  runtime_fakes::FakeHost host;
  FilelogReceiver rcv("filelog", options_for(dir.file("app.log")), {}, next, host.telemetry());
  REQUIRE(rcv.start(host).is_ok());
  REQUIRE(eventually([&] {
    std::lock_guard lock(next.mu);
    return next.calls >= 1;
  }));
  dir.append("app.log", "perm-", 10, 20);
  REQUIRE(eventually([&] { return next.count() >= 10; }));
  rcv.shutdown(component::Clock::now());
  auto seen = next.all();
  REQUIRE(seen.size() == 10);
  CHECK(seen.front().body == "perm-10");  // the refused ten are not read again
}

TEST_CASE("filelog receiver: with storage a restart resumes where the last run stopped") {
  LogDir dir;
  dir.append("app.log", "ck-", 0, 100);
  MemoryStorage storage;
  StorageHost host(&storage);
  auto o = options_for(dir.file("app.log"));
  o.storage = "memory";
  o.tailer.start_at_beginning = true;
  ScriptedConsumer first;
  {
    FilelogReceiver rcv("filelog", o, {}, first, host.telemetry());
    REQUIRE(rcv.start(host).is_ok());
    REQUIRE(eventually([&] { return first.count() >= 100; }));
    rcv.shutdown(component::Clock::now());
  }
  REQUIRE(storage.data["filelog"].count("checkpoint") == 1);
  dir.append("app.log", "ck-", 100, 150);
  ScriptedConsumer second;
  {
    FilelogReceiver rcv("filelog", o, {}, second, host.telemetry());
    REQUIRE(rcv.start(host).is_ok());
    REQUIRE(eventually([&] { return second.count() >= 50; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rcv.shutdown(component::Clock::now());
  }
  auto all = first.all();
  auto more = second.all();
  all.insert(all.end(), more.begin(), more.end());
  check_each_once(all, "ck-", 150);

  SUBCASE("a damaged checkpoint is ignored: files are read from start_at") {
    storage.data["filelog"]["checkpoint"] = "garbage";
    ScriptedConsumer third;
    FilelogReceiver rcv("filelog", o, {}, third, host.telemetry());
    REQUIRE(rcv.start(host).is_ok());
    REQUIRE(eventually([&] { return third.count() >= 150; }));
    rcv.shutdown(component::Clock::now());
    check_each_once(third.all(), "ck-", 150);
    CHECK(counter_value(host.telemetry(), "vigil_filelog_checkpoint_errors_total", {{"receiver", "filelog"}}) == 1);
  }
}

TEST_CASE("filelog receiver: storage that is not configured is a start error naming it") {
  LogDir dir;
  auto o = options_for(dir.file("app.log"));
  o.storage = "file_storage/missing";
  ScriptedConsumer next;
  runtime_fakes::FakeHost host;
  FilelogReceiver rcv("filelog", o, {}, next, host.telemetry());
  Status st = rcv.start(host);
  CHECK(st.is_permanent());
  CHECK(st.message().find("file_storage/missing") != std::string::npos);
}

TEST_CASE("filelog receiver: config checks") {
  auto factory = collectors::filelog_receiver_factory();
  auto errors_for = [&](const std::string& yaml) { return component_config_errors(factory, yaml, "filelog"); };
  CHECK(errors_for("include: [/var/log/*.log]\n").empty());
  CHECK(errors_for("include: [/var/log/*.log]\nfingerprint_size: 1KiB\nmax_log_size: 2MiB\n").empty());
  CHECK(errors_for("include: [/var/log/*.log]\nfingerprint_size: 1kb\nmax_log_size: 1024\n").empty());
  CHECK(mentions(errors_for("include: [a]\nmax_log_size: 12 parsecs\n"), "max_log_size"));
  CHECK(mentions(errors_for("include: [a]\nmax_log_size: 0\n"), "max_log_size"));
  CHECK(mentions(errors_for("start_at: end\n"), "include"));
  CHECK(mentions(errors_for("include: [a]\nfingerprint_size: lots\n"), "fingerprint_size"));
  CHECK(mentions(errors_for("include: [a]\nmultiline: {line_start_pattern: a, line_end_pattern: b}\n"),
                       "not both"));
  CHECK(mentions(errors_for("include: [a]\nencoding: utf-16le\n"), "encoding"));
  CHECK(mentions(errors_for("include: [a]\ndelete_after_read: true\n"), "delete_after_read"));
  CHECK(mentions(errors_for("include: [a]\noperators:\n  - type: nonesuch_parser\n"), "nonesuch_parser"));
}

}  // namespace vigil::testing
