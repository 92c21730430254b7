#pragma once
// Test components for the pipeline graph: they record what they receive and the order of
// their lifecycle calls.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/loader.hpp"
#include "agent/runtime/graph.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::testing::graph_fakes {

using component::Status;
using model::Batch;
using model::Signal;

struct Journal {
  std::mutex mu;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    return std::exchange(events, {});
  }
};

inline Journal& journal() {
  static Journal j;
  return j;
}

// Makes a logs batch with `n` records whose bodies are "<prefix><i>".
inline Batch make_logs(int n, const std::string& prefix = "r") {
  Batch b(Signal::kLogs);
  auto& arena = b.arena();
  auto& rl = b.resource_logs().emplace_back(arena);
  auto& sl = rl.scope_logs.emplace_back(arena);
  for (int i = 0; i < n; ++i) {
    auto& r = sl.log_records.emplace_back(arena);
    r.body = model::AnyValue::string(arena.copy(prefix + std::to_string(i)));
  }
  return b;
}

inline std::vector<std::string> bodies(const Batch& b) {
  std::vector<std::string> out;
  for (const auto& rl : b.resource_logs())
    for (const auto& sl : rl.scope_logs)
      for (const auto& r : sl.log_records) out.emplace_back(r.body.string_value());
  return out;
}

class FakeReceiver : public component::Receiver {
 public:
  FakeReceiver(std::string id, component::SignalConsumers next) : id_(std::move(id)), next_(next) {
    std::lock_guard lock(mu());
    all()[id_] = this;
  }
  ~FakeReceiver() override {
    std::lock_guard lock(mu());
    if (all()[id_] == this) all().erase(id_);
  }
  Status start(component::Host&) override {
    journal().add("start receiver " + id_);
    return Status::ok();
  }
  void shutdown(component::Deadline) override { journal().add("stop receiver " + id_); }
  Status push(Batch&& b) {
    auto* c = next_[static_cast<std::size_t>(b.signal())];
    return c == nullptr ? Status::permanent("no consumer") : c->consume(std::move(b));
  }
  static FakeReceiver* get(const std::string& id) {
    std::lock_guard lock(mu());
    auto it = all().find(id);
    return it == all().end() ? nullptr : it->second;
  }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, FakeReceiver*>& all() {
    static std::map<std::string, FakeReceiver*> m;
    return m;
  }
  std::string id_;
  component::SignalConsumers next_;
};

// Appends "+<tag>" to every log body: a processor that mutates data.
class TagProcessor : public component::Processor {
 public:
  TagProcessor(std::string id, std::string tag, component::Consumer& next, bool mutates)
      : id_(std::move(id)), tag_(std::move(tag)), next_(next), mutates_(mutates) {}
  Status start(component::Host&) override {
    journal().add("start processor " + id_);
    return Status::ok();
  }
  void shutdown(component::Deadline) override { journal().add("stop processor " + id_); }
  bool mutates_data() const override { return mutates_; }
  Status consume(Batch&& b) override {
    if (mutates_) {
      auto& arena = b.arena();
      for (auto& rl : b.resource_logs())
        for (auto& sl : rl.scope_logs)
          for (auto& r : sl.log_records)
            r.body = model::AnyValue::string(arena.copy(std::string(r.body.string_value()) + "+" + tag_));
    }
    return next_.consume(std::move(b));
  }

 private:
  std::string id_, tag_;
  component::Consumer& next_;
  bool mutates_;
};

// Records every batch it is asked to send; can be told to fail.
class FakeSender : public component::Sender {
 public:
  explicit FakeSender(std::string id) : id_(std::move(id)) {}
  Status start(component::Host&) override {
    journal().add("start exporter " + id_);
    return fail_start ? Status::permanent("cannot start") : Status::ok();
  }
  void shutdown(component::Deadline) override { journal().add("stop exporter " + id_); }
  Status send(const Batch& b) override {
    if (block.load()) return Status::retryable("blocked", std::chrono::milliseconds(10));
    std::lock_guard lock(mu_);
    for (auto& s : bodies(b)) received_.push_back(s);
    return Status::ok();
  }
  std::vector<std::string> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  static inline std::atomic<bool> block{false};
  static inline bool fail_start = false;

 private:
  std::string id_;
  std::mutex mu_;
  std::vector<std::string> received_;
};

inline std::map<std::string, FakeSender*>& senders() {
  static std::map<std::string, FakeSender*> m;
  return m;
}

inline std::vector<component::Factory> fake_factories() {
  using component::Factory;
  using component::Kind;
  std::vector<Factory> out;
  Factory r;
  r.kind = Kind::kReceiver;
  r.type = "fake";
  r.signals = {Signal::kLogs, Signal::kTraces};
  r.schema = {config::opt_string("endpoint", "127.0.0.1:1", "where")};
  r.create_receiver = [](const component::CreateSettings& cs, const component::SignalConsumers& next) {
    return std::make_unique<FakeReceiver>(cs.id, next);
  };
  out.push_back(r);

  Factory p;
  p.kind = Kind::kProcessor;
  p.type = "tag";
  p.signals = {Signal::kLogs};
  p.schema = {config::opt_string("tag", "x", "suffix"), config::opt_bool("mutates", true, "changes data")};
  p.create_processor = [](const component::CreateSettings& cs, Signal, component::Consumer& next) {
    return std::make_unique<TagProcessor>(cs.id, cs.settings.get_string("tag"), next, cs.settings.get_bool("mutates"));
  };
  out.push_back(p);

  Factory e;
  e.kind = Kind::kExporter;
  e.type = "rec";
  e.signals = {Signal::kLogs};
  e.create_exporter = [](const component::CreateSettings& cs, Signal) {
    auto s = std::make_unique<FakeSender>(cs.id);
    senders()[cs.id] = s.get();
    return s;
  };
  out.push_back(e);

  Factory c;
  c.kind = Kind::kConnector;
  c.type = "pass";
  c.connector_signals = {{Signal::kLogs, Signal::kLogs}};
  c.create_connector = [](const component::CreateSettings& cs, Signal, Signal, component::Consumer& next) {
    struct Pass : component::Connector {
      Pass(std::string id, component::Consumer& n) : id_(std::move(id)), next_(n) {}
      Status start(component::Host&) override {
        journal().add("start connector " + id_);
        return Status::ok();
      }
      void shutdown(component::Deadline) override { journal().add("stop connector " + id_); }
      Status consume(Batch&& b) override { return next_.consume(std::move(b)); }
      bool mutates_data() const override { return next_.mutates_data(); }
      std::string id_;
      component::Consumer& next_;
    };
    return std::make_unique<Pass>(cs.id, next);
  };
  out.push_back(c);

  Factory x;
  x.kind = Kind::kExtension;
  x.type = "ext";
  x.create_extension = [](const component::CreateSettings& cs) {
    struct Ext : component::Extension {
      explicit Ext(std::string id) : id_(std::move(id)) {}
      Status start(component::Host&) override {
        journal().add("start extension " + id_);
        return Status::ok();
      }
      void shutdown(component::Deadline) override { journal().add("stop extension " + id_); }
      std::string id_;
    };
    return std::make_unique<Ext>(cs.id);
  };
  out.push_back(x);
  return out;
}

class FakeHost : public component::Host {
 public:
  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }
  boost::asio::io_context io_;
  telemetry::Telemetry telemetry_;
};

template <class Pred>
bool eventually_true(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

inline config::Value yaml(const std::string& text, config::Errors& errors) {
  return config::parse_yaml(text, "test.yaml", errors);
}

}  // namespace vigil::testing::graph_fakes

// Each support header keeps its fakes in a namespace of its own (one test executable links
// several), and makes them visible to the tests that include it.
namespace vigil::testing {
using namespace graph_fakes;
}  // namespace vigil::testing
