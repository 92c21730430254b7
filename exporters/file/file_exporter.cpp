#include "exporters/file/file_exporter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <vector>

#include <prometheus/counter.h>

#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::exporters {

namespace fs = std::filesystem;
using component::Status;

namespace {

constexpr std::string_view kComponent = "exporter/file";
// Buffered bytes above this are written at once, whatever flush_interval says (bounded memory).
constexpr std::size_t kMaxPendingBytes = 1u << 20;
constexpr std::size_t kTimestampLength = 23;  // YYYY-MM-DDTHH-MM-SS.mmm

std::string errno_text(int err) {
  return std::strerror(err);
}

// Writes all of data, retrying short writes and EINTR. Returns 0 or an errno value.
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

// Errors a later attempt may not meet again (the disk gets room, the device recovers): the
// caller may retry. Anything else (EFBIG, EBADF, EROFS, ...) is permanent.
bool is_transient(int err) {
  return err == ENOSPC || err == EDQUOT || err == EIO || err == EAGAIN || err == EINTR;
}

// The key writers are shared by: the absolute, normalised path (symlinks resolved where they
// exist), so "out.json" and "./out.json" are one file.
std::string writer_key(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec) return path;
  fs::path canonical = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal().string() : canonical.string();
}

bool is_backup_timestamp(std::string_view s) {
  if (s.size() != kTimestampLength) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (i) {
      case 4:
      case 7:
      case 13:
      case 16:
        if (c != '-') return false;
        break;
      case 10:
        if (c != 'T') return false;
        break;
      case 19:
        if (c != '.') return false;
        break;
      default:
        if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

}  // namespace

std::string file_backup_name(const std::string& path, std::chrono::system_clock::time_point when) {
  const fs::path p(path);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H-%M-%S", &tm);
  std::snprintf(ts + n, sizeof ts - n, ".%03d", static_cast<int>(ms % 1000));
  fs::path name = p.parent_path() / (p.stem().string() + "-" + ts + p.extension().string());
  return name.string();
}

bool same_file_output(const FileExporterOptions& a, const FileExporterOptions& b) {
  return a.format == b.format && a.rotation == b.rotation && a.flush_interval == b.flush_interval &&
         (!a.rotation || (a.max_megabytes == b.max_megabytes && a.max_backups == b.max_backups));
}

// One open file, shared by the started senders of the same path.
//
// Invariants (under mu_): the file holds file_bytes_ bytes, all whole records; pending_ holds
// whole records accepted (send returned OK) but not yet written, and the pending_items of the
// attached sources add up to the items in it.
class FileWriter {
 public:
  explicit FileWriter(FileExporterOptions options) : options_(std::move(options)) {}
  ~FileWriter() {
    // The last sender normally closed it. A sender always detaches before it is destroyed, so
    // any source still listed here would be dangling: do not charge it.
    std::unique_lock lock(mu_);
    sources_.clear();
    close_locked(lock);
  }

  const FileExporterOptions& options() const { return options_; }

  // Opens the file and starts the flush thread. Called once, before any attach().
  Status open() {
    std::unique_lock lock(mu_);
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int err = errno;
      std::string msg = "file exporter: cannot open \"" + options_.path + "\": " + errno_text(err);
      if (err == ENOENT) msg += " (the folder must exist)";
      return Status::permanent(std::move(msg));
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      regular_ = S_ISREG(st.st_mode);
      file_bytes_ = static_cast<std::uint64_t>(st.st_size);
    }
    if (options_.flush_interval.count() > 0) {
      stopping_ = false;
      flusher_ = std::thread([this] { flush_loop(); });
    }
    return Status::ok();
  }

  void attach(FileWriterSource& source) {
    std::lock_guard lock(mu_);
    source.attached = true;
    source.pending_items = 0;
    sources_.push_back(&source);
  }

  // Writes what is buffered (so that a loss is still charged to a sender that is attached) and
  // detaches the source. Returns true when it was the last one: the file is then closed.
  bool detach(FileWriterSource& source) {
    std::unique_lock lock(mu_);
    if (!source.attached) return false;
    if (sources_.size() == 1) {
      close_locked(lock);  // the final flush still counts its losses against `source`
    } else {
      write_out(pending_.size());
    }
    source.attached = false;
    source.pending_items = 0;
    sources_.erase(std::find(sources_.begin(), sources_.end(), &source));
    return sources_.empty();
  }

  Status write(FileWriterSource& source, const model::Batch& batch) {
    std::unique_lock lock(mu_);
    if (fd_ < 0 || !source.attached) return Status::permanent("file exporter: not running");
    const std::size_t before = pending_.size();
    if (options_.format == FileExporterOptions::Format::kJson) {
      otlp::append_json(batch, pending_);
      pending_.push_back('\n');
    } else {
      pending_.append(4, '\0');
      otlp::append_export_request(batch, pending_);
      const std::size_t len = pending_.size() - before - 4;
      if (len > 0xFFFFFFFFu) {
        pending_.resize(before);
        return Status::permanent("file exporter: batch too large for a 4-byte length prefix");
      }
      for (int i = 0; i < 4; ++i) pending_[before + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xFF);
    }
    const std::size_t record = pending_.size() - before;

    if (options_.rotation) {
      const std::uint64_t max_bytes = static_cast<std::uint64_t>(options_.max_megabytes) << 20;
      if (file_bytes_ + before + record > max_bytes && file_bytes_ + before > 0) {
        // Earlier records finish the current file; this one starts the next.
        if (int err = write_out(before); err != 0) {
          pending_.clear();  // only this record was left: refused, so it must not be written later
          return write_error(err);
        }
        rotate_locked();
      }
    }
    if (options_.flush_interval.count() == 0 || pending_.size() >= kMaxPendingBytes) {
      // On failure this record is gone from the buffer with the others: refused to the caller,
      // who counts it; the others are counted by write_out.
      if (int err = write_out(pending_.size()); err != 0) return write_error(err);
    } else {
      source.pending_items += batch.item_count();
    }
    return Status::ok();
  }

 private:
  // Writes the first n pending bytes, which hold exactly the records counted in the sources'
  // pending_items, and removes them from the buffer. On failure the file is cut back to its last
  // good size (no partial record stays) and those records are counted as dropped, so one bad
  // write does not repeat forever and nothing is lost silently. Returns 0 or an errno value.
  int write_out(std::size_t n) {
    if (n == 0) return 0;
    const int err = write_all(fd_, pending_.data(), n);
    pending_.erase(0, n);
    if (err == 0) {
      file_bytes_ += n;
      for (FileWriterSource* s : sources_) s->pending_items = 0;
      return 0;
    }
    cut_back_locked();
    drop_pending_locked(err);
    return err;
  }

  // Removes whatever a failed write left after the last whole record. The file is assumed to be
  // written by this agent only. Devices and pipes (/dev/stdout) cannot be cut back.
  void cut_back_locked() {
    if (!regular_) return;
    while (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      struct stat st {};
      if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<std::uint64_t>(st.st_size);
      telemetry::log_limited(telemetry::Level::kError, "file-truncate:" + options_.path, kComponent,
                             "cannot cut a partly written record out of \"" + options_.path +
                                 "\": " + errno_text(err) + "; the file may hold a broken record");
      return;
    }
  }

  void drop_pending_locked(int err) {
    std::string what;
    for (FileWriterSource* s : sources_) {
      if (s->pending_items == 0) continue;
      s->write_failed->Increment(static_cast<double>(s->pending_items));
      if (!what.empty()) what += ", ";
      what += std::to_string(s->pending_items) + " " + std::string(model::signal_item_name(s->signal)) + " of " +
              s->id;
      s->pending_items = 0;
    }
    if (what.empty()) return;
    telemetry::log_limited(telemetry::Level::kError, "file-write:" + options_.path, kComponent,
                           "writing \"" + options_.path + "\" failed: " + errno_text(err) +
                               "; dropped buffered " + what + " (write_failed)");
  }

  Status write_error(int err) const {
    std::string msg = "file exporter: writing \"" + options_.path + "\" failed: " + errno_text(err) +
                      "; nothing of this batch was written";
    return is_transient(err) ? Status::retryable(std::move(msg)) : Status::permanent(std::move(msg));
  }

  void rotate_locked() {
    std::string backup = file_backup_name(options_.path, std::chrono::system_clock::now());
    // Two rotations within one millisecond would collide: move the later one on by 1 ms.
    std::error_code ec;
    for (int i = 1; i < 1000 && fs::exists(backup, ec); ++i) {
      backup =
          file_backup_name(options_.path, std::chrono::system_clock::now() + std::chrono::milliseconds(i));
    }
    ::fsync(fd_);
    if (::rename(options_.path.c_str(), backup.c_str()) != 0) {
      telemetry::log_limited(
          telemetry::Level::kWarn, "file-rotate:" + options_.path, kComponent,
          "cannot rotate \"" + options_.path + "\": " + errno_text(errno) + "; writing on to the same file");
      return;
    }
    int fd = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      // Keep writing to the renamed file rather than losing data.
      telemetry::log_limited(
          telemetry::Level::kError, "file-reopen:" + options_.path, kComponent,
          "cannot open a new \"" + options_.path + "\" after rotation: " + errno_text(errno));
      return;
    }
    ::close(fd_);
    fd_ = fd;
    file_bytes_ = 0;
    prune_backups();
  }

  // Deletes the oldest backups beyond max_backups (names sort by their UTC timestamp).
  void prune_backups() {
    if (options_.max_backups <= 0) return;
    const fs::path p(options_.path);
    const std::string prefix = p.stem().string() + "-";
    const std::string ext = p.extension().string();
    fs::path dir = p.parent_path();
    if (dir.empty()) dir = ".";
    std::vector<fs::path> backups;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() != prefix.size() + kTimestampLength + ext.size()) continue;
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      if (name.compare(name.size() - ext.size(), ext.size(), ext) != 0) continue;
      if (!is_backup_timestamp(std::string_view(name).substr(prefix.size(), kTimestampLength))) continue;
      backups.push_back(it->path());
    }
    if (backups.size() <= static_cast<std::size_t>(options_.max_backups)) return;
    std::sort(backups.begin(), backups.end());
    const std::size_t excess = backups.size() - static_cast<std::size_t>(options_.max_backups);
    for (std::size_t i = 0; i < excess; ++i) fs::remove(backups[i], ec);
  }

  void flush_loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, options_.flush_interval, [this] { return stopping_; });
      if (stopping_) break;
      write_out(pending_.size());  // a failure is counted and logged there
    }
  }

  void close_locked(std::unique_lock<std::mutex>& lock) {
    if (flusher_.joinable()) {
      stopping_ = true;
      cv_.notify_all();
      std::thread t = std::move(flusher_);
      lock.unlock();
      t.join();
      lock.lock();
    }
    if (fd_ < 0) return;
    write_out(pending_.size());
    if (::fsync(fd_) != 0 && regular_) {
      telemetry::log(telemetry::Level::kError, kComponent,
                     "fsync of \"" + options_.path + "\" at shutdown failed: " + errno_text(errno));
    }
    ::close(fd_);
    fd_ = -1;
  }

  const FileExporterOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  int fd_ = -1;
  bool regular_ = false;  // a regular file (can be cut back after a failed write)
  bool stopping_ = false;
  std::uint64_t file_bytes_ = 0;  // bytes in the file (not counting pending_)
  std::string pending_;
  std::vector<FileWriterSource*> sources_;  // attached senders
  std::thread flusher_;
};

namespace {

// Running writers by path (writer_key). An entry lives from the first sender's start() to the
// last sender's shutdown(); start() and shutdown() hold the mutex while they attach or detach.
struct WriterRegistry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<FileWriter>> writers;
};

WriterRegistry& writer_registry() {
  static WriterRegistry registry;
  return registry;
}

}  // namespace

FileExporter::FileExporter(const FileExporterOptions& options, std::string id, model::Signal signal,
                           telemetry::Telemetry& telemetry)
    : options_(options) {
  source_.write_failed = &telemetry.exporter(id, signal).send_failed("write_failed");
  source_.id = std::move(id);
  source_.signal = signal;
}

FileExporter::~FileExporter() {
  shutdown({});
}

Status FileExporter::start(component::Host&) {
  if (started_) return Status::ok();
  WriterRegistry& registry = writer_registry();
  std::lock_guard lock(registry.mu);
  const std::string key = writer_key(options_.path);
  auto it = registry.writers.find(key);
  if (it != registry.writers.end()) {
    if (!same_file_output(it->second->options(), options_)) {
      return Status::permanent("file exporter " + source_.id + ": path \"" + options_.path +
                               "\" is already written by another file exporter with different options "
                               "(format, rotation and flush_interval must match)");
    }
    writer_ = it->second;
  } else {
    auto writer = std::make_shared<FileWriter>(options_);
    if (Status s = writer->open(); !s.is_ok()) return s;
    registry.writers.emplace(key, writer);
    writer_ = std::move(writer);
  }
  writer_->attach(source_);
  started_ = true;
  return Status::ok();
}

void FileExporter::shutdown(component::Deadline) {
  if (!started_) return;
  started_ = false;
  WriterRegistry& registry = writer_registry();
  std::lock_guard lock(registry.mu);
  if (writer_->detach(source_)) {
    auto it = registry.writers.find(writer_key(options_.path));
    if (it != registry.writers.end() && it->second == writer_) registry.writers.erase(it);
  }
}

Status FileExporter::send(const model::Batch& batch) {
  if (!writer_) return Status::permanent("file exporter: not started");
  return writer_->write(source_, batch);
}

FileExporterOptions read_file_exporter_options(const config::Settings& settings) {
  FileExporterOptions o;
  o.path = settings.get_string("path");
  o.format = settings.get_string("format") == "proto" ? FileExporterOptions::Format::kProto
                                                      : FileExporterOptions::Format::kJson;
  o.rotation = settings.has("rotation");
  o.max_megabytes = settings.get_int("rotation.max_megabytes");
  o.max_backups = settings.get_int("rotation.max_backups");
  o.flush_interval = settings.get_duration("flush_interval");
  return o;
}

component::Factory file_exporter_factory() {
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = "file";
  f.description = "Appends telemetry to a local file as OTLP/JSON lines or length-prefixed OTLP protobuf.";
  f.signals = {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs};
  f.exporter_queue = false;
  f.schema = {
      config::required(config::opt_string("path", "", "file to append to; its folder must exist")),
      config::opt_string("format", "json",
                         "json: one OTLP/JSON request per line; proto: 4-byte big-endian "
                         "length + OTLP protobuf request",
                         {"json", "proto"}),
      config::opt_object(
          "rotation", "size-based rotation; off unless this key is present",
          {
              config::opt_int("max_megabytes", 100, "rotate before the file exceeds this size", 1),
              config::opt_int("max_backups", 100, "rotated files to keep (0: keep all)", 0),
          }),
      config::opt_duration("flush_interval", "1s",
                           "how often buffered data is written; 0 writes after each batch", 0),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    if (s.has("path") && s.get_string("path").empty()) {
      errors.push_back({s.location("path"), id, "path must not be empty"});
    }
    if (!s.get_string("path").empty() && s.get_string("path").back() == '/') {
      errors.push_back({s.location("path"), id, "path names a folder; it must name a file"});
    }
  };
  f.create_exporter = [](const component::CreateSettings& cs,
                         model::Signal signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<FileExporter>(read_file_exporter_options(cs.settings), cs.id, signal, cs.telemetry);
  };
  return f;
}

}  // namespace vigil::exporters
