#pragma once
// The `nop` exporter (the Collector's exporter/nopexporter): accepts every batch and does nothing
// with it. For pipelines that need an exporter but no output, and for measuring what the rest of
// a pipeline costs (the discarding end of the benchmarks in tests/bench/).
//
// It has no options and no sending queue (exporter_queue = false): the runtime calls send() in
// the thread that hands the batch over, which returns at once. Every batch is counted as sent
// (vigil_exporter_sent_*), as the Collector's nop exporter does.
//
// Thread-safety: send() holds no state and may run on any number of threads at once.

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"

namespace vigil::exporters {

class NopExporter : public component::Sender {
 public:
  component::Status start(component::Host&) override { return component::Status::ok(); }
  void shutdown(component::Deadline) override {}
  component::Status send(const model::Batch&) override { return component::Status::ok(); }
};

component::Factory nop_exporter_factory();

}  // namespace vigil::exporters
