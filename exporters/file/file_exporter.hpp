#pragma once
// The `file` exporter: appends every batch to a local file, as OTLP/JSON lines (one export
// request per line, like the Collector's file exporter) or as length-prefixed OTLP protobuf
// (4-byte big-endian length, then the export request bytes). Optional size-based rotation keeps
// at most `max_backups` renamed files next to the active one.
//
// Ownership and threads: all started senders for one path (an exporter used by the traces,
// metrics and logs pipelines is three senders) share one FileWriter, so one file has one
// position and one rotation. A sender attaches to the writer in start() and detaches in
// shutdown(); the writer is closed when its last sender detaches, so a reload that changes the
// options of a path reopens it with the new ones. Senders with different options cannot share
// a path: start() of the second one fails. send() may run on several threads: encoding and
// writing happen under the writer's mutex, in whole records. Buffered bytes are written at
// least every `flush_interval` by a background thread (or after every batch when it is 0), and
// fsync'ed at shutdown.
//
// Losses: a failed write is cut back out of the file (ftruncate), so the file only ever holds
// whole records. The batch of the send() that wrote is refused to its caller; records of earlier
// sends that were buffered (already acknowledged) and lost with it are counted in
// send_failed{reason="write_failed"} of their exporter and signal.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"

namespace prometheus {
class Counter;
}

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

// True when two exporters writing one path would write it the same way (the path itself is
// not compared).
bool same_file_output(const FileExporterOptions& a, const FileExporterOptions& b);

// The name a rotated file gets: <dir>/<stem>-<YYYY-MM-DDTHH-MM-SS.mmm UTC><ext>.
std::string file_backup_name(const std::string& path, std::chrono::system_clock::time_point when);

class FileWriter;

// One sender as its writer sees it: who to charge for buffered records that a failed write
// loses. Owned by the FileExporter; the fields below `write_failed` are guarded by the mutex of
// the writer it is attached to.
struct FileWriterSource {
  std::string id;  // exporter ID, for log lines
  model::Signal signal = model::Signal::kLogs;
  prometheus::Counter* write_failed = nullptr;  // send_failed{reason="write_failed"}
  std::size_t pending_items = 0;  // items of this sender in the writer's buffer
  bool attached = false;
};

class FileExporter : public component::Sender {
 public:
  FileExporter(const FileExporterOptions& options, std::string id, model::Signal signal,
               telemetry::Telemetry& telemetry);
  ~FileExporter() override;

  // Opens the file, or shares it with the running senders of the same path. A missing folder,
  // a permission problem, or another running file exporter writing the path with different
  // options is a permanent error.
  component::Status start(component::Host& host) override;
  // Flushes; when this is the file's last user also fsyncs and closes. Safe without start().
  // Must not run concurrently with send() (the exporter helper guarantees that).
  void shutdown(component::Deadline deadline) override;
  component::Status send(const model::Batch& batch) override;

 private:
  const FileExporterOptions options_;
  FileWriterSource source_;
  std::shared_ptr<FileWriter> writer_;  // set by start(), kept after shutdown (send then refuses)
  bool started_ = false;                // control thread only
};

component::Factory file_exporter_factory();

}  // namespace vigil::exporters
