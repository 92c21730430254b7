#pragma once
// One factory per component type. The agent's one list of every factory is
// vigil::builtin_factories() in agent/components.cpp; nothing registers itself.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/config/schema.hpp"

namespace vigil::component {

enum class Kind { kReceiver, kProcessor, kExporter, kConnector, kExtension };

inline std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kReceiver: return "receiver";
    case Kind::kProcessor: return "processor";
    case Kind::kExporter: return "exporter";
    case Kind::kConnector: return "connector";
    case Kind::kExtension: return "extension";
  }
  return "component";
}

// What every create function gets.
struct CreateSettings {
  std::string id;                     // "type" or "type/name"
  const config::Settings& settings;   // validated, defaulted
  telemetry::Telemetry& telemetry;
  std::string pipeline;               // processors: the pipeline ID ("logs/app"); else empty
};

struct Factory {
  Kind kind = Kind::kReceiver;
  std::string type;
  std::string description;
  // Receivers, processors, exporters: the signals supported.
  std::vector<Signal> signals;
  // Connectors: the (input, output) signal pairs supported.
  std::vector<std::pair<Signal, Signal>> connector_signals;
  config::Schema schema;
  // Exporters: the runtime adds `sending_queue` and `retry_on_failure` to the schema and wraps
  // the sender with a queue. False for exporters that write synchronously (debug, file).
  bool exporter_queue = true;
  // Checks across options (the Collector's Validate()); appends every problem.
  std::function<void(const config::Settings&, const std::string& id, config::Errors&)> validate;

  // One receiver instance per ID, shared by all its pipelines and signals.
  std::function<std::unique_ptr<Receiver>(const CreateSettings&, const SignalConsumers& next)> create_receiver;
  // One processor instance per pipeline.
  std::function<std::unique_ptr<Processor>(const CreateSettings&, Signal, Consumer& next)> create_processor;
  // One sender per (ID, signal).
  std::function<std::unique_ptr<Sender>(const CreateSettings&, Signal)> create_exporter;
  // One connector instance per (ID, input signal, output signal).
  std::function<std::unique_ptr<Connector>(const CreateSettings&, Signal in, Signal out, Consumer& next)>
      create_connector;
  std::function<std::unique_ptr<Extension>(const CreateSettings&)> create_extension;

  bool supports(Signal s) const {
    for (Signal x : signals) if (x == s) return true;
    return false;
  }
};

}  // namespace vigil::component
