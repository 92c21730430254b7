#include "agent/extensions/file_storage/file_storage.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "agent/telemetry/log.hpp"

namespace vigil::extensions {

namespace {

constexpr char kType[] = "file_storage";
constexpr char kTmpSuffix[] = ".tmp";

std::string errno_text(int err) {
  return std::strerror(err);
}

// Errors that may go away by themselves (a full disk is emptied, an I/O hiccup) are retryable;
// the rest (permissions, a read-only file system, a bad name) need someone to act.
component::Status io_error(const std::string& what, const std::string& path, int err) {
  std::string message = "file_storage: " + what + " \"" + path + "\": " + errno_text(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EINTR:
    case EAGAIN:
    case ENOMEM:
    case EBUSY:
    case EMFILE:
    case ENFILE:
      return component::Status::retryable(std::move(message));
    default:
      return component::Status::permanent(std::move(message));
  }
}

bool is_safe(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

// "0750", "750": an octal mode of at most 07777.
bool parse_permissions(std::string_view text, mode_t& out) {
  if (text.empty()) return false;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (ec != std::errc() || end != text.data() + text.size() || value > 07777) return false;
  out = static_cast<mode_t>(value);
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// os.MkdirAll: every missing component is created with `mode` (minus the umask); components that
// exist must be directories.
bool make_directories(const std::string& path, mode_t mode, int& err) {
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (::mkdir(prefix.c_str(), mode) == 0) continue;
    if (errno != EEXIST) {
      err = errno;
      return false;
    }
    struct stat st {};
    if (::stat(prefix.c_str(), &st) != 0) {
      err = errno;
      return false;
    }
    if (!S_ISDIR(st.st_mode)) {
      err = ENOTDIR;
      return false;
    }
  }
  return true;
}

bool fsync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// One client directory, open and flock()ed, shared by every client of it in this process. The
// lock is released when the last client lets go (close() drops it).
struct SharedDir {
  std::string path;
  int fd = -1;
  // Clients of the same data would otherwise write the same `<key>.tmp` at once.
  std::timed_mutex write_mu;

  ~SharedDir() {
    if (fd >= 0) ::close(fd);
  }
};

// Process-wide, keyed by absolute path: two extension instances on the same directory (a config
// reload creates the new one before the old one is gone) must share the lock, not wait on it.
std::mutex& registry_mutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<SharedDir>>& registry() {
  static std::map<std::string, std::weak_ptr<SharedDir>> dirs;
  return dirs;
}

class FileStorageClient final : public component::StorageClient {
 public:
  FileStorageClient(std::shared_ptr<SharedDir> dir, bool fsync, std::chrono::milliseconds timeout)
      : dir_(std::move(dir)), fsync_(fsync), timeout_(timeout) {}

  component::Status get(std::string_view key, std::optional<std::string>& value) override {
    value.reset();
    std::string name;
    if (component::Status s = file_name(key, name); !s.is_ok()) return s;
    const int fd = ::openat(dir_->fd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return component::Status::ok();
      return io_error("cannot open", path(name), errno);
    }
    std::string data;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      data.reserve(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), kFileStorageMaxValueBytes) +
                   1);
    }
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        return io_error("cannot read", path(name), err);
      }
      if (n == 0) break;
      if (data.size() + static_cast<std::size_t>(n) > kFileStorageMaxValueBytes) {
        ::close(fd);
        return component::Status::permanent("file_storage: \"" + path(name) + "\" is larger than " +
                                            std::to_string(kFileStorageMaxValueBytes) + " bytes");
      }
      data.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    value = std::move(data);
    return component::Status::ok();
  }

  component::Status set(std::string_view key, std::string_view value) override {
    std::string name;
    if (component::Status s = file_name(key, name); !s.is_ok()) return s;
    if (value.size() > kFileStorageMaxValueBytes) {
      return component::Status::permanent("file_storage: value for key \"" + std::string(key) + "\" is " +
                                          std::to_string(value.size()) + " bytes, more than " +
                                          std::to_string(kFileStorageMaxValueBytes));
    }
    std::unique_lock lock(dir_->write_mu, std::defer_lock);
    if (!lock.try_lock_for(timeout_)) {
      return component::Status::retryable("file_storage: another client of \"" + dir_->path +
                                          "\" is still writing");
    }
    const std::string tmp = name + kTmpSuffix;
    // O_TRUNC: a temporary file left by a crash is simply overwritten.
    const int fd = ::openat(dir_->fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create", path(tmp), errno);
    const char* failed = nullptr;
    int err = 0;
    if (!write_all(fd, value)) {
      failed = "cannot write";
      err = errno;
    } else if (fsync_ && ::fsync(fd) != 0) {
      failed = "cannot fsync";
      err = errno;
    }
    // close() can report a delayed write error (NFS); it counts.
    if (::close(fd) != 0 && failed == nullptr) {
      failed = "cannot write";
      err = errno;
    }
    if (failed == nullptr && ::renameat(dir_->fd, tmp.c_str(), dir_->fd, name.c_str()) != 0) {
      err = errno;
      ::unlinkat(dir_->fd, tmp.c_str(), 0);
      return io_error("cannot rename \"" + path(tmp) + "\" to", path(name), err);
    }
    if (failed != nullptr) {
      ::unlinkat(dir_->fd, tmp.c_str(), 0);
      return io_error(failed, path(tmp), err);
    }
    // The rename is durable only once the directory entry is.
    if (fsync_ && ::fsync(dir_->fd) != 0) return io_error("cannot fsync directory", dir_->path, errno);
    return component::Status::ok();
  }

  component::Status remove(std::string_view key) override {
    std::string name;
    if (component::Status s = file_name(key, name); !s.is_ok()) return s;
    if (::unlinkat(dir_->fd, name.c_str(), 0) != 0) {
      if (errno == ENOENT) return component::Status::ok();
      return io_error("cannot remove", path(name), errno);
    }
    if (fsync_ && ::fsync(dir_->fd) != 0) return io_error("cannot fsync directory", dir_->path, errno);
    return component::Status::ok();
  }

 private:
  static component::Status file_name(std::string_view key, std::string& name) {
    name = file_storage_key_file(key);
    if (!name.empty()) return component::Status::ok();
    if (key.empty()) return component::Status::permanent("file_storage: empty key");
    return component::Status::permanent("file_storage: key \"" + std::string(key.substr(0, 64)) +
                                        "...\" is too long for a file name");
  }

  std::string path(const std::string& name) const { return dir_->path + "/" + name; }

  std::shared_ptr<SharedDir> dir_;
  const bool fsync_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::string file_storage_escape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (is_safe(u)) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "~%04X", static_cast<unsigned>(u));
      out += buf;
    }
  }
  return out;
}

std::string file_storage_client_dir(component::Kind kind, std::string_view component_id,
                                    std::string_view name) {
  // The Collector's "<kind>_<type>_<name>": an unnamed ID keeps the trailing underscore.
  const std::size_t slash = component_id.find('/');
  const std::string_view type = component_id.substr(0, slash);
  const std::string_view id_name =
      slash == std::string_view::npos ? std::string_view() : component_id.substr(slash + 1);
  std::string raw;
  raw.append(component::kind_name(kind)).append("_").append(type).append("_").append(id_name);
  if (!name.empty()) raw.append("_").append(name);
  return file_storage_escape(raw);
}

std::string file_storage_key_file(std::string_view key) {
  if (key.empty()) return {};
  std::string out = file_storage_escape(key);
  // "." is safe inside a name but not everywhere: these two rules keep every key a plain,
  // visible file that is nobody's temporary file. The mapping stays one-to-one because a literal
  // '~' is always escaped.
  if (out.front() == '.') out.replace(0, 1, "~002E");
  constexpr std::size_t kTmpLen = sizeof(kTmpSuffix) - 1;
  if (out.size() >= kTmpLen && out.compare(out.size() - kTmpLen, kTmpLen, kTmpSuffix) == 0) {
    out.replace(out.size() - kTmpLen, 1, "~002E");
  }
  if (out.size() > kFileStorageMaxKeyFileName) return {};
  return out;
}

FileStorageOptions read_file_storage_options(const config::Settings& settings) {
  FileStorageOptions o;
  o.directory = settings.get_string("directory");
  o.create_directory = settings.get_bool("create_directory");
  // Checked by validate() when create_directory is set; ignored otherwise, like the Collector.
  parse_permissions(settings.get_string("directory_permissions"), o.directory_permissions);
  o.fsync = settings.get_bool("fsync");
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.get_duration("timeout"));
  return o;
}

FileStorageExtension::FileStorageExtension(std::string id, FileStorageOptions options)
    : id_(std::move(id)), options_(std::move(options)) {}

FileStorageExtension::~FileStorageExtension() = default;

component::Status FileStorageExtension::start(component::Host&) {
  const std::string& dir = options_.directory;
  if (dir.empty()) return component::Status::permanent(id_ + ": directory is empty");
  if (options_.create_directory) {
    int err = 0;
    if (!make_directories(dir, options_.directory_permissions, err)) {
      return component::Status::permanent(id_ + ": cannot create directory \"" + dir +
                                          "\": " + errno_text(err));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return component::Status::permanent(id_ + ": directory \"" + dir +
                                          "\" does not exist (create it, or set create_directory: true)");
    }
    return component::Status::permanent(id_ + ": cannot access directory \"" + dir +
                                        "\": " + errno_text(err));
  }
  if (!S_ISDIR(st.st_mode)) return component::Status::permanent(id_ + ": \"" + dir + "\" is not a directory");

  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    return component::Status::permanent(id_ + ": cannot resolve directory \"" + dir +
                                        "\": " + errno_text(errno));
  }
  // Permission bits do not tell (root, read-only mounts, ACLs): creating a file does.
  const std::string probe =
      std::string(resolved) + "/.file_storage-write-check." + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return component::Status::permanent(id_ + ": directory \"" + dir +
                                        "\" is not writable: " + errno_text(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());

  {
    std::lock_guard lock(mu_);
    directory_ = resolved;
  }
  telemetry::log(
      telemetry::Level::kInfo, id_,
      std::string("state kept in \"") + resolved + "\" (fsync " + (options_.fsync ? "on" : "off") + ")");
  return component::Status::ok();
}

void FileStorageExtension::shutdown(component::Deadline) {}

std::string FileStorageExtension::directory() const {
  std::lock_guard lock(mu_);
  return directory_;
}

std::unique_ptr<component::StorageClient> FileStorageExtension::client(component::Kind kind,
                                                                       std::string_view component_id,
                                                                       std::string_view name,
                                                                       std::string& error) {
  const std::string base = directory();
  if (base.empty()) {
    error = id_ + ": not started";
    return nullptr;
  }
  const std::string dir_name = file_storage_client_dir(kind, component_id, name);
  if (dir_name.size() > NAME_MAX) {
    error = id_ + ": component ID \"" + std::string(component_id) + "\" is too long for a directory name";
    return nullptr;
  }
  const std::string path = base + "/" + dir_name;

  // Held while waiting for another process's lock: client() is called at start only, and a second
  // thread asking for the same directory must find the first one's entry, not wait on its lock.
  std::lock_guard registry_lock(registry_mutex());
  auto& dirs = registry();
  for (auto it = dirs.begin(); it != dirs.end();) it = it->second.expired() ? dirs.erase(it) : std::next(it);
  if (auto it = dirs.find(path); it != dirs.end()) {
    // The last client may have let go since the sweep above; then the directory is opened afresh.
    if (std::shared_ptr<SharedDir> shared = it->second.lock()) {
      return std::make_unique<FileStorageClient>(std::move(shared), options_.fsync, options_.timeout);
    }
  }

  if (::mkdir(path.c_str(), 0700) == 0) {
    if (options_.fsync && !fsync_directory(base)) {
      error = id_ + ": cannot fsync directory \"" + base + "\": " + errno_text(errno);
      return nullptr;
    }
  } else if (errno != EEXIST) {
    error = id_ + ": cannot create directory \"" + path + "\": " + errno_text(errno);
    return nullptr;
  }
  auto shared = std::make_shared<SharedDir>();
  shared->path = path;
  shared->fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (shared->fd < 0) {
    error = id_ + ": cannot open directory \"" + path + "\": " + errno_text(errno);
    return nullptr;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (::flock(shared->fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      error = id_ + ": cannot lock directory \"" + path + "\": " + errno_text(errno);
      return nullptr;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      error = id_ + ": directory \"" + path + "\" is locked by another process (waited " +
              std::to_string(options_.timeout.count()) + "ms); two agents cannot share a storage directory";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  dirs[path] = shared;
  return std::make_unique<FileStorageClient>(std::move(shared), options_.fsync, options_.timeout);
}

component::Factory file_storage_extension_factory() {
  component::Factory f;
  f.kind = component::Kind::kExtension;
  f.type = kType;
  f.description = "Keeps components' state (filelog checkpoints) in files in a local directory.";
  f.schema = {
      config::opt_string("directory", "/var/lib/vigil/file_storage",
                         "Directory that holds the state; one subdirectory per component using it."),
      config::opt_bool("create_directory", false, "Create the directory and its missing parents at start."),
      config::opt_string("directory_permissions", "0750",
                         "Octal permissions of directories made by create_directory (minus the umask)."),
      config::opt_bool("fsync", true,
                       "fsync every write and its directory, so a value survives a power loss (the "
                       "Collector's default is false)."),
      config::opt_duration("timeout", "1s",
                           "How long to wait for another process's lock on a component's state.", 0),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    if (s.get_string("directory").empty())
      errors.push_back({s.location("directory"), id, "directory is empty"});
    mode_t mode = 0;
    const std::string permissions = s.get_string("directory_permissions");
    if (s.get_bool("create_directory") && !parse_permissions(permissions, mode)) {
      errors.push_back({s.location("directory_permissions"), id,
                        "directory_permissions \"" + permissions + "\" is not an octal mode such as 0750"});
    }
  };
  f.create_extension = [](const component::CreateSettings& cs) -> std::unique_ptr<component::Extension> {
    return std::make_unique<FileStorageExtension>(cs.id, read_file_storage_options(cs.settings));
  };
  return f;
}

}  // namespace vigil::extensions
