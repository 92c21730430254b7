#include "exporters/nop/nop_exporter.hpp"

#include <memory>

namespace vigil::exporters {

component::Factory nop_exporter_factory() {
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = "nop";
  f.description = "Accepts every batch and discards it (for pipelines without output and benchmarks).";
  f.signals = {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs};
  // Nothing to wait for, so a queue would only add cost: send() runs in the caller's thread.
  f.exporter_queue = false;
  f.schema = {};
  f.create_exporter = [](const component::CreateSettings&, model::Signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<NopExporter>();
  };
  return f;
}

}  // namespace vigil::exporters
