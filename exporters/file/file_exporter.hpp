#pragma once
// The `file` exporter: appends every batch to a local file, as OTLP/JSON lines (one export
// request per line, like the Collector's file exporter) or as length-prefixed OTLP protobuf
// (4-byte big-endian length, then the export request bytes). Optional size-based rotation keeps
// at most `max_backups` renamed files next to the active one.
//
// Ownership and threads: all senders for one path (an exporter used by the traces, metrics and
// logs pipelines is three senders) share one FileWriter, so one file has one position and one
// rotation. send() may run on several threads: encoding and writing happen under the writer's
// mutex, in whole records. Buffered bytes are written at least every `flush_interval` by a
// background thread (or after every batch when it is 0), and fsync'ed at shutdown.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"

namespace vigil::exporters {

struct FileExporterOptions {
  enum class Format { kJson, kProto };

  std::string path;
  Format format = Format::kJson;
  bool rotation = false;             // only when the `rotation` key is present
  std::int64_t max_megabytes = 100;  // rotate before the file would exceed this size
  std::int64_t max_backups = 100;    // rotated files kept; 0 keeps all
  std::chrono::nanoseconds flush_interval = std::chrono::seconds(1);  // 0: write after each batch
};

FileExporterOptions read_file_exporter_options(const config::Settings& settings);

// The name a rotated file gets: <dir>/<stem>-<YYYY-MM-DDTHH-MM-SS.mmm UTC><ext>.
std::string file_backup_name(const std::string& path, std::chrono::system_clock::time_point when);

class FileWriter;

class FileExporter : public component::Sender {
 public:
  explicit FileExporter(const FileExporterOptions& options);
  ~FileExporter() override;

  // Opens (or shares) the file. A missing folder or a permission problem is a permanent error.
  component::Status start(component::Host& host) override;
  // Flushes, fsyncs and closes (when this is the file's last user). Safe without start().
  void shutdown(component::Deadline deadline) override;
  component::Status send(const model::Batch& batch) override;

 private:
  std::shared_ptr<FileWriter> writer_;
  bool started_ = false;
};

component::Factory file_exporter_factory();

}  // namespace vigil::exporters
