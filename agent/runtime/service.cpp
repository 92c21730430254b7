#include "agent/runtime/service.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <csignal>
#include <thread>

#include "agent/telemetry/log.hpp"

namespace vigil::runtime {
namespace {

using telemetry::Level;

void log_errors(const config::Errors& errors, std::string_view prefix) {
  for (const auto& e : errors) {
    telemetry::log(Level::kError, "config", std::string(prefix) + e.str());
  }
}

// Refreshes the process gauges right before each scrape; contributes no families itself.
class ProcessCollector : public prometheus::Collectable {
 public:
  explicit ProcessCollector(telemetry::Telemetry& t) : telemetry_(t) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    telemetry_.update_process_metrics();
    return {};
  }

 private:
  telemetry::Telemetry& telemetry_;
};

}  // namespace

std::optional<Plan> load_plan(const ConfigSource& source, const std::vector<component::Factory>& factories,
                              const config::EnvLookup& env, config::Errors& errors) {
  const std::size_t before = errors.size();
  config::Value root;
  if (source.paths.empty()) {
    root = config::parse_yaml(source.embedded_text, source.embedded_name, errors);
    if (errors.size() == before) config::expand_env(root, env, errors);
  } else {
    root = config::load_files(source.paths, env, errors);
  }
  if (errors.size() != before) return std::nullopt;
  return validate_config(std::move(root), factories, errors);
}

class Service::HostImpl : public component::Host {
 public:
  explicit HostImpl(telemetry::Telemetry& t) : telemetry_(t), work_(boost::asio::make_work_guard(io_)) {}

  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view id) override {
    return graph_ != nullptr ? graph_->extension(id) : nullptr;
  }
  bool pipelines_ready() const override { return ready_.load(); }

  void set_graph(Graph* g) { graph_ = g; }
  void set_ready(bool r) { ready_.store(r); }

  void start_threads(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void stop_threads() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  boost::asio::io_context io_;
  telemetry::Telemetry& telemetry_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  Graph* graph_ = nullptr;
  std::atomic<bool> ready_{false};
};

struct Service::MetricsServer {
  std::string address;
  std::shared_ptr<ProcessCollector> process;
  std::unique_ptr<prometheus::Exposer> exposer;
};

Service::Service(std::vector<component::Factory> factories, ConfigSource source, config::EnvLookup env)
    : factories_(std::move(factories)), source_(std::move(source)), env_(std::move(env)),
      host_(std::make_unique<HostImpl>(telemetry_)) {}

Service::~Service() {
  if (graph_) graph_->shutdown(component::Clock::now() + std::chrono::seconds(5));
  host_->stop_threads();
}

void Service::request_stop() {
  std::lock_guard lock(mu_);
  stop_requested_ = true;
  cv_.notify_all();
}

void Service::request_reload() {
  std::lock_guard lock(mu_);
  reload_requested_ = true;
  cv_.notify_all();
}

bool Service::serve_metrics(const std::string& address, std::string& error) {
  if (metrics_server_ && metrics_server_->address == address) return true;
  metrics_server_.reset();
  if (address.empty()) return true;
  auto server = std::make_unique<MetricsServer>();
  server->address = address;
  server->process = std::make_shared<ProcessCollector>(telemetry_);
  try {
    server->exposer = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    error = "cannot serve self-metrics on " + address + ": " + e.what();
    return false;
  }
  server->exposer->RegisterCollectable(server->process);
  server->exposer->RegisterCollectable(telemetry_.shared_registry());
  metrics_server_ = std::move(server);
  return true;
}

void Service::apply_service_settings(const Plan& plan) {
  Level level = Level::kInfo;
  if (telemetry::parse_level(plan.log_level, level)) telemetry::set_log_level(level);
}

bool Service::start_graph(const Plan& plan, std::unique_ptr<Graph>& out, std::string& error) {
  auto graph = Graph::build(plan, telemetry_, error);
  if (!graph) return false;
  host_->set_graph(graph.get());
  auto status = graph->start(*host_);
  if (!status.is_ok()) {
    error = status.message();
    host_->set_graph(graph_.get());
    return false;
  }
  out = std::move(graph);
  return true;
}

int Service::run() {
  config::Errors errors;
  plan_ = load_plan(source_, factories_, env_, errors);
  if (!plan_) {
    log_errors(errors, "");
    telemetry::log(Level::kError, "service", std::to_string(errors.size()) + " config error(s); not starting");
    return 1;
  }
  apply_service_settings(*plan_);

  unsigned workers = std::max(2u, std::thread::hardware_concurrency());
  host_->start_threads(workers);

  boost::asio::signal_set signals(host_->io_context(), SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      request_reload();
    } else {
      request_stop();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  std::string error;
  if (!serve_metrics(plan_->metrics_address, error)) {
    telemetry::log(Level::kError, "service", error);
    signals.cancel();
    host_->stop_threads();
    return 1;
  }
  if (!start_graph(*plan_, graph_, error)) {
    telemetry::log(Level::kError, "service", "failed to start: " + error);
    signals.cancel();
    host_->stop_threads();
    return 1;
  }
  host_->set_ready(true);
  telemetry::log(Level::kInfo, "service",
                 "Vigil is running: " + std::to_string(plan_->pipelines.size()) + " pipeline(s), " +
                     std::to_string(graph_->receiver_count()) + " receiver(s), " +
                     std::to_string(graph_->exporter_count()) + " exporter(s)" +
                     (plan_->metrics_address.empty() ? std::string()
                                                     : "; self-metrics on http://" + plan_->metrics_address + "/metrics"));
  if (on_started_) on_started_();

  for (;;) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stop_requested_ || reload_requested_; });
    if (stop_requested_) break;
    reload_requested_ = false;
    lock.unlock();
    reload();
  }

  telemetry::log(Level::kInfo, "service", "stopping: draining queues (up to " +
                                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                 plan_->shutdown_timeout)
                                                                 .count()) +
                                              " ms)");
  host_->set_ready(false);
  graph_->shutdown(component::Clock::now() + plan_->shutdown_timeout);
  graph_.reset();
  host_->set_graph(nullptr);
  signals.cancel();
  host_->stop_threads();
  metrics_server_.reset();
  telemetry::log(Level::kInfo, "service", "stopped");
  return 0;
}

void Service::reload() {
  telemetry::log(Level::kInfo, "service", "SIGHUP: reloading the config");
  config::Errors errors;
  auto plan = load_plan(source_, factories_, env_, errors);
  if (!plan) {
    log_errors(errors, "reload: ");
    telemetry::log(Level::kError, "service",
                   "reload failed with " + std::to_string(errors.size()) + " config error(s); keeping the running config");
    return;
  }
  std::string error;
  auto next = Graph::build(*plan, telemetry_, error);
  if (!next) {
    telemetry::log(Level::kError, "service", "reload failed: " + error + "; keeping the running config");
    return;
  }
  host_->set_ready(false);
  // The old graph stops taking data, flushes its processors, and hands its queued batches to
  // the exporters of the same ID in the new graph.
  graph_->hand_over(*next, component::Clock::now() + plan_->shutdown_timeout);
  host_->set_graph(next.get());
  auto status = next->start(*host_);
  if (!status.is_ok()) {
    // A failed start leaves the new exporters' queues in place, so the previous config gets
    // them back.
    telemetry::log(Level::kError, "service", "reload failed to start: " + status.message() +
                                                 "; going back to the previous config");
    auto previous = Graph::build(*plan_, telemetry_, error);
    if (previous) {
      next->hand_over(*previous, component::Clock::now() + plan_->shutdown_timeout);
      host_->set_graph(previous.get());
      status = previous->start(*host_);
    }
    if (!previous || !status.is_ok()) {
      telemetry::log(Level::kError, "service",
                     "the previous config failed to start again (" +
                         (previous ? status.message() : error) + "); stopping");
      if (previous) {
        graph_ = std::move(previous);
      } else {
        graph_ = std::move(next);
        plan_ = std::move(plan);  // the graph points into its plan
      }
      request_stop();
      return;
    }
    graph_ = std::move(previous);
    host_->set_ready(true);
    return;
  }
  graph_ = std::move(next);
  plan_ = std::move(plan);
  apply_service_settings(*plan_);
  if (!serve_metrics(plan_->metrics_address, error)) telemetry::log(Level::kError, "service", error);
  host_->set_ready(true);
  telemetry::log(Level::kInfo, "service", "reloaded");
}

}  // namespace vigil::runtime
