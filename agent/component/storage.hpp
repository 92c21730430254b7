#pragma once
// Storage extensions (the Collector's extension/storage): a component's `storage:` option names
// an extension ID (file_storage/x); at start the component looks it up with Host::extension(),
// casts it to StorageExtension and asks for its own client. A client is a small key-value store
// private to one component; values survive restarts.
//
// Thread-safety: a client is used by one thread at a time; different clients may be used
// concurrently.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/component/status.hpp"

namespace vigil::component {

class StorageClient {
 public:
  virtual ~StorageClient() = default;
  // The value of `key`; std::nullopt when absent. A read error is a non-ok Status (the caller
  // warns and goes on as if absent).
  virtual Status get(std::string_view key, std::optional<std::string>& value) = 0;
  // Replaces `key` atomically: after a crash at any point the key holds the old or the new value,
  // whole (write to a temporary file, fsync when configured, rename, fsync the directory).
  virtual Status set(std::string_view key, std::string_view value) = 0;
  virtual Status remove(std::string_view key) = 0;
};

class StorageExtension {
 public:
  virtual ~StorageExtension() = default;
  // A client for the component (kind, ID) and a name within it ("" for the default). Two calls
  // with the same arguments reach the same data.
  virtual std::unique_ptr<StorageClient> client(Kind kind, std::string_view component_id, std::string_view name,
                                                std::string& error) = 0;
};

// Finds extension `id` and casts it to StorageExtension; nullptr with `error` otherwise.
inline StorageExtension* find_storage(Host& host, std::string_view id, std::string& error) {
  Extension* e = host.extension(id);
  if (e == nullptr) {
    error = "storage: extension \"" + std::string(id) +
            "\" is not configured (add it under extensions and service.extensions)";
    return nullptr;
  }
  auto* s = dynamic_cast<StorageExtension*>(e);
  if (s == nullptr) error = "storage: extension \"" + std::string(id) + "\" is not a storage extension";
  return s;
}

}  // namespace vigil::component
