#pragma once
// The `file_storage` extension (the Collector's extension/storage/filestorage): state that must
// survive a restart (filelog checkpoints) kept in a local directory. Option names are the
// Collector's; `fsync` defaults to true here (the Collector's default is false).
//
// Layout: one subdirectory per client, named like the Collector's database file
// (`receiver_filelog_app` for kind receiver, ID filelog/app; `_<name>` appended for a named
// client), and one file per key inside it. A set() writes `<key>.tmp`, fsyncs it, renames it over
// `<key>` and fsyncs the directory, so after a crash a key holds its old or its new value, whole;
// a leftover `<key>.tmp` is never read and is replaced by the next set(). Names are escaped: bytes
// outside [A-Za-z0-9._-] (and `~`) become `~` and four hex digits, as in the Collector.
//
// Each client directory is locked with flock() while a client of it is open in this process:
// another process (a second agent on the same directory) waits up to `timeout`, then fails to get
// the client. Clients of the same directory inside this process share the lock and a mutex that
// serialises their writes.
//
// Ownership: clients own what they use (directory descriptor, lock) and may outlive the extension.
// Thread-safety: start/shutdown from the control thread; client() from any thread; a client is
// used by one thread at a time, different clients concurrently.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/component/factory.hpp"
#include "agent/component/storage.hpp"

namespace vigil::extensions {

struct FileStorageOptions {
  std::string directory = "/var/lib/vigil/file_storage";
  bool create_directory = false;
  mode_t directory_permissions = 0750;  // with create_directory, minus the umask
  bool fsync = true;
  // How long client() waits for another process's lock on a client directory.
  std::chrono::milliseconds timeout{1000};
};

FileStorageOptions read_file_storage_options(const config::Settings& settings);

// A value larger than this is refused by set() and reported as an error by get().
inline constexpr std::size_t kFileStorageMaxValueBytes = 64 * 1024 * 1024;
// The longest escaped key (a file name, with ".tmp" appended, must fit NAME_MAX).
inline constexpr std::size_t kFileStorageMaxKeyFileName = 251;

// Bytes outside [A-Za-z0-9._-] become "~%04X" (the Collector's sanitize() for ASCII; other bytes
// are escaped one by one).
std::string file_storage_escape(std::string_view raw);
// The client directory name: "<kind>_<type>_<name>[_<client name>]", escaped.
std::string file_storage_client_dir(component::Kind kind, std::string_view component_id,
                                    std::string_view name);
// The file name for `key`: escaped, and also with a leading dot and a trailing ".tmp" escaped, so
// that no key names ".", "..", a hidden file or another key's temporary file. Empty when the key
// is empty or its file name would be longer than kFileStorageMaxKeyFileName.
std::string file_storage_key_file(std::string_view key);

class FileStorageExtension final : public component::Extension, public component::StorageExtension {
 public:
  FileStorageExtension(std::string id, FileStorageOptions options);
  ~FileStorageExtension() override;

  // Creates the directory when create_directory is set; then checks that it is a directory this
  // process can create files in. A permanent error naming the path otherwise.
  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // Opens (creating it when needed) the client's subdirectory and takes its lock. nullptr with
  // `error` before start(), or when the directory cannot be created or stays locked by another
  // process for `timeout`.
  std::unique_ptr<component::StorageClient> client(component::Kind kind, std::string_view component_id,
                                                   std::string_view name, std::string& error) override;

  // The directory in use (absolute, symlinks resolved) after start().
  std::string directory() const;

 private:
  const std::string id_;
  const FileStorageOptions options_;
  mutable std::mutex mu_;
  std::string directory_;  // guarded by mu_; set by start()
};

component::Factory file_storage_extension_factory();

}  // namespace vigil::extensions
