#pragma once
// The service: loads the config, builds and runs the pipeline graph on one io_context with
// worker threads, serves self-metrics, and handles signals (SIGTERM/SIGINT drain and exit,
// SIGHUP reloads). An invalid new config on reload keeps the running graph; queued data moves
// to the new graph's exporters.
//
// Thread-safety: run() owns the control thread; request_stop()/request_reload() may be called
// from any thread (signal handlers post them).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/loader.hpp"
#include "agent/runtime/graph.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::runtime {

// Where the config comes from: files, or embedded text (the default config).
struct ConfigSource {
  std::vector<std::string> paths;
  std::string embedded_text;  // used when paths is empty
  std::string embedded_name = "<embedded default config>";
};

// Loads and validates; returns the plan or appends every error.
std::optional<Plan> load_plan(const ConfigSource& source, const std::vector<component::Factory>& factories,
                              const config::EnvLookup& env, config::Errors& errors);

class Service {
 public:
  Service(std::vector<component::Factory> factories, ConfigSource source, config::EnvLookup env);
  ~Service();

  // Runs until stopped. Returns the process exit code: 0 after a clean stop, 1 when the config
  // is invalid or a component fails to start. Prints config errors to stderr.
  int run();

  void request_stop();
  void request_reload();

  // For tests: called after the first successful start (port numbers are then bound).
  void on_started(std::function<void()> f) { on_started_ = std::move(f); }
  telemetry::Telemetry& telemetry() { return telemetry_; }

 private:
  class HostImpl;
  enum class Event { kNone, kStop, kReload };

  bool start_graph(const Plan& plan, std::unique_ptr<Graph>& out, std::string& error);
  void reload();
  void apply_service_settings(const Plan& plan);
  bool serve_metrics(const std::string& address, std::string& error);

  std::vector<component::Factory> factories_;
  ConfigSource source_;
  config::EnvLookup env_;
  telemetry::Telemetry telemetry_;
  std::unique_ptr<HostImpl> host_;
  std::unique_ptr<Graph> graph_;
  std::optional<Plan> plan_;
  std::function<void()> on_started_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  bool reload_requested_ = false;

  struct MetricsServer;
  std::unique_ptr<MetricsServer> metrics_server_;
};

}  // namespace vigil::runtime
