#pragma once
// filelog receiver: tails files (rotation, truncation, restarts), cuts lines, runs the stanza-style
// operators and hands log batches to the pipeline. Config follows the Collector's filelogreceiver
// (see README.md).
//
// One reader thread per receiver: it polls the globs every poll_interval, reads files in large
// chunks (Tailer), builds records in the arena of the batch being assembled (lines are views into
// the read buffers, which the batch adopts) and consumes the batch. The pipeline's answer moves
// the file positions: accepted -> commit (and a checkpoint when storage is set); refused for now
// -> rewind to the last commit and pause reading (backpressure, nothing lost); refused for good ->
// counted as refused and committed. An end-to-end acknowledgement can later replace the commit on
// "accepted" without changing the Tailer (see Tailer::commit).
//
// Ownership: the receiver owns its thread, Tailer and storage client; the consumer, the storage
// extension and the Telemetry object outlive it. Thread-safety: start/shutdown from the control
// thread; everything else on the reader thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/component/storage.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "collectors/filelog/operators/operator.hpp"
#include "collectors/filelog/tailer.hpp"

namespace vigil::collectors {

struct FilelogOptions {
  filelog::TailerOptions tailer;
  std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(200);
  bool include_file_name = true;
  bool include_file_path = false;
  bool body_as_bytes = false;  // encoding: nop
  std::string storage;  // extension ID, "" for none
  std::vector<std::pair<std::string, std::string>> attributes;  // added to every record
  std::vector<std::pair<std::string, std::string>> resource;    // added to every resource
  // Not config options: a batch is cut at this many records or bytes of lines.
  std::size_t max_batch_records = 8192;
  std::size_t max_batch_bytes = 4 * 1024 * 1024;
  // Checkpoints are written at most this often while reading (and always at shutdown).
  std::chrono::nanoseconds checkpoint_interval = std::chrono::seconds(1);
};

class FilelogReceiver : public component::Receiver {
 public:
  FilelogReceiver(std::string id, FilelogOptions options, std::vector<std::unique_ptr<filelog::Operator>> ops,
                  component::Consumer& next, telemetry::Telemetry& telemetry);
  ~FilelogReceiver() override;

  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

 private:
  class Reader;
  std::string id_;
  FilelogOptions options_;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<component::StorageClient> storage_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

component::Factory filelog_receiver_factory();

}  // namespace vigil::collectors
