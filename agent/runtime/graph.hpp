#pragma once
// The pipeline graph: validating a whole config against the factories (every error at once,
// with its location and component ID), then creating and wiring the component instances.
//
// Wiring, as in the Collector: one receiver instance per ID (shared by its pipelines and
// signals); one processor instance per pipeline; one exporter per (ID, signal), each behind its
// own ExporterHelper; one connector per (ID, input signal, output signal), an exporter in the
// pipelines that list it under `exporters` and a receiver in those that list it under
// `receivers`. Start order: extensions, exporters, connectors and processors (downstream first),
// receivers. Stop order: the reverse.
//
// Thread-safety: a Graph is built, started and stopped by the service's control thread.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/schema.hpp"
#include "agent/config/value.hpp"
#include "agent/runtime/exporter_helper.hpp"
#include "agent/runtime/fanout.hpp"

namespace vigil::runtime {

struct ComponentId {
  std::string type;
  std::string name;  // may be empty
  std::string str() const { return name.empty() ? type : type + "/" + name; }
};

// Parses "type" or "type/name"; false with a message when malformed.
bool parse_component_id(const std::string& text, ComponentId& out, std::string& error);

// A validated config: what to build.
struct Plan {
  struct Component {
    std::string id;
    const component::Factory* factory = nullptr;
    config::Schema schema;  // the factory's, plus the exporter helper's options
    const config::Value* node = nullptr;
    config::Location location;
  };
  struct Pipeline {
    std::string id;  // "logs" or "logs/app"
    model::Signal signal = model::Signal::kLogs;
    std::vector<std::string> receivers, processors, exporters;
  };

  config::Value root;  // owns the nodes the components point into
  std::map<std::string, Component> receivers, processors, exporters, connectors, extensions;
  std::vector<Pipeline> pipelines;
  std::vector<std::string> service_extensions;

  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(10);
  std::string log_level = "info";
  std::string metrics_address = "127.0.0.1:8888";  // "" or "none" disables /metrics
};

// The schema of the `service` section.
const config::Schema& service_schema();

// Checks a loaded config; returns the plan when there is no error. Every problem is appended to
// `errors`. Never throws.
std::optional<Plan> validate_config(config::Value root, const std::vector<component::Factory>& factories,
                                    config::Errors& errors);

class Graph {
 public:
  // Creates every instance and wires them (no I/O, no threads yet).
  static std::unique_ptr<Graph> build(const Plan& plan, telemetry::Telemetry& telemetry, std::string& error);
  ~Graph();

  // Starts everything in order. On failure, stops the receivers, processors, connectors and
  // extensions again and returns the error naming the component; the exporters keep their
  // queues, so the caller can hand_over() to another graph or shutdown().
  component::Status start(component::Host& host);
  // Receivers first, then processors (flushing), connectors, exporters (draining), extensions.
  void shutdown(component::Deadline deadline);

  // Component IDs with the signals they run for, for logs and tests.
  std::size_t receiver_count() const { return receivers_.size(); }
  std::size_t exporter_count() const { return exporters_.size(); }

  // Reload support: stop taking data (receivers), flush processors and connectors into the
  // exporters, then move what every exporter still has queued to the exporter with the same
  // (ID, signal) in `next`; exporters without a successor drain. Leaves this graph shut down.
  void hand_over(Graph& next, component::Deadline deadline);

  component::Extension* extension(std::string_view id) const;
  ExporterHelper* exporter(const std::string& id, model::Signal signal) const;

 private:
  Graph() = default;
  void stop_receivers_and_flush(component::Deadline deadline);

  std::vector<std::unique_ptr<config::Settings>> settings_;  // kept alive for the components
  std::vector<std::pair<std::string, std::unique_ptr<component::Extension>>> extensions_;
  std::vector<std::unique_ptr<ExporterHelper>> exporters_;
  // Processors and connectors, downstream first: each appears after everything it feeds.
  // Labels name them in errors ("processor batch in pipeline logs").
  std::vector<std::pair<std::string, std::unique_ptr<component::Component>>> middle_;
  std::vector<std::pair<std::string, std::unique_ptr<component::Receiver>>> receivers_;
  std::vector<std::unique_ptr<component::Consumer>> glue_;  // fan-outs and pipeline heads
  bool shut_down_ = false;
};

}  // namespace vigil::runtime
