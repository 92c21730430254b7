#pragma once
// The `debug` exporter: writes what it receives to stdout, for people looking at a pipeline
// (the Collector's debug exporter). verbosity basic: one summary line per batch; normal: one
// line per record; detailed: every field, nested.
//
// Thread-safety: send() may run on several threads; each batch's text is formatted outside the
// lock and written with one locked fwrite + fflush, so batches never interleave. The FILE* is
// not owned (stdout by default; tests pass their own).

#include <cstdio>
#include <mutex>
#include <string>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"

namespace vigil::exporters {

enum class DebugVerbosity { kBasic, kNormal, kDetailed };

// The text debug prints for one batch (ends with '\n').
std::string format_debug(const model::Batch& batch, DebugVerbosity verbosity);

class DebugExporter : public component::Sender {
 public:
  DebugExporter(DebugVerbosity verbosity, std::FILE* out = stdout) : verbosity_(verbosity), out_(out) {}

  component::Status start(component::Host&) override { return component::Status::ok(); }
  void shutdown(component::Deadline) override;
  component::Status send(const model::Batch& batch) override;

 private:
  DebugVerbosity verbosity_;
  std::FILE* out_;
  std::mutex mu_;
};

// Reads `verbosity` from validated settings.
DebugVerbosity read_debug_verbosity(const config::Settings& settings);

component::Factory debug_exporter_factory();

}  // namespace vigil::exporters
