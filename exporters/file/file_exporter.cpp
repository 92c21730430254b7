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

#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "agent/telemetry/log.hpp"

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

// One open file, shared by every sender of the same path.
class FileWriter {
 public:
  explicit FileWriter(FileExporterOptions options) : options_(std::move(options)) {}
  ~FileWriter() {
    // The last user normally closed it; this only covers a sender destroyed without shutdown.
    std::unique_lock lock(mu_);
    close_locked(lock);
  }

  Status open() {
    std::unique_lock lock(mu_);
    if (users_++ > 0) return Status::ok();
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int err = errno;
      users_ = 0;
      std::string msg = "file exporter: cannot open \"" + options_.path + "\": " + errno_text(err);
      if (err == ENOENT) msg += " (the folder must exist)";
      return Status::permanent(std::move(msg));
    }
    struct stat st {};
    file_bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (options_.flush_interval.count() > 0) {
      stopping_ = false;
      flusher_ = std::thread([this] { flush_loop(); });
    }
    return Status::ok();
  }

  void close() {
    std::unique_lock lock(mu_);
    if (users_ == 0) return;
    if (--users_ > 0) return;
    close_locked(lock);
  }

  Status write(const model::Batch& batch) {
    std::unique_lock lock(mu_);
    if (fd_ < 0) return Status::permanent("file exporter: not started");
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
        if (int err = write_out(before); err != 0) return write_error(err);
        rotate_locked();
      }
    }
    if (options_.flush_interval.count() == 0 || pending_.size() >= kMaxPendingBytes) {
      if (int err = write_out(pending_.size()); err != 0) return write_error(err);
    }
    return Status::ok();
  }

 private:
  // Writes the first n pending bytes to the file. On failure those bytes are dropped (they may
  // be partly written), so one bad write does not repeat forever. Returns 0 or an errno value.
  int write_out(std::size_t n) {
    if (n == 0) return 0;
    int err = write_all(fd_, pending_.data(), n);
    if (err == 0) file_bytes_ += n;
    pending_.erase(0, n);
    return err;
  }

  Status write_error(int err) {
    return Status::retryable("file exporter: writing \"" + options_.path + "\" failed: " + errno_text(err));
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
      const std::size_t n = pending_.size();
      if (int err = write_out(n); err != 0) {
        telemetry::log_limited(telemetry::Level::kError, "file-write:" + options_.path, kComponent,
                               "writing \"" + options_.path + "\" failed: " + errno_text(err) + "; " +
                                   std::to_string(n) + " bytes lost");
      }
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
    const std::size_t n = pending_.size();
    if (int err = write_out(n); err != 0) {
      telemetry::log(telemetry::Level::kError, kComponent,
                     "writing \"" + options_.path + "\" at shutdown failed: " + errno_text(err) + "; " +
                         std::to_string(n) + " bytes lost");
    }
    ::fsync(fd_);
    ::close(fd_);
    fd_ = -1;
  }

  const FileExporterOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  int fd_ = -1;
  int users_ = 0;
  bool stopping_ = false;
  std::uint64_t file_bytes_ = 0;  // bytes in the file (not counting pending_)
  std::string pending_;
  std::thread flusher_;
};

namespace {

// Writers by path, so the senders of one exporter (and of an old and a new config during a
// reload) share one file. Entries expire with their last sender.
std::shared_ptr<FileWriter> writer_for(const FileExporterOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<FileWriter>> writers;
  std::lock_guard lock(mu);
  for (auto it = writers.begin(); it != writers.end();) {
    if (it->second.expired())
      it = writers.erase(it);
    else
      ++it;
  }
  std::weak_ptr<FileWriter>& slot = writers[options.path];
  if (auto w = slot.lock()) return w;
  auto w = std::make_shared<FileWriter>(options);
  slot = w;
  return w;
}

}  // namespace

FileExporter::FileExporter(const FileExporterOptions& options) : writer_(writer_for(options)) {}

FileExporter::~FileExporter() {
  if (started_) writer_->close();
}

Status FileExporter::start(component::Host&) {
  if (started_) return Status::ok();
  Status s = writer_->open();
  started_ = s.is_ok();
  return s;
}

void FileExporter::shutdown(component::Deadline) {
  if (!started_) return;
  started_ = false;
  writer_->close();
}

Status FileExporter::send(const model::Batch& batch) {
  return writer_->write(batch);
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
                         model::Signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<FileExporter>(read_file_exporter_options(cs.settings));
  };
  return f;
}

}  // namespace vigil::exporters
