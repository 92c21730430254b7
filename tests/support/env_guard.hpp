#pragma once
// Environment variables for one test: set and unset through the guard, and every variable it
// touched is put back as it was (value or absence) when it goes out of scope. setenv is not
// thread-safe: use it before the test starts threads that read the environment, and only one
// guard at a time.
//
//   vigil::testing::env::EnvGuard env(vigil::testing::env::kProxyVariables);  // starts cleared
//   env.set("HTTPS_PROXY", proxy.url());

#include <stdlib.h>

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

namespace vigil::testing::env {

// The variables libcurl and runtime/proxy read, in both cases.
inline constexpr const char* kProxyVariables[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                                  "NO_PROXY",   "no_proxy",   "ALL_PROXY",   "all_proxy"};

class EnvGuard {
 public:
  EnvGuard() = default;
  // Starts with every named variable unset.
  template <class Names>
  explicit EnvGuard(const Names& cleared) {
    for (const auto& name : cleared) unset(name);
  }
  EnvGuard(std::initializer_list<const char*> cleared) {
    for (const char* name : cleared) unset(name);
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }

 private:
  // Only the first touch saves: the value to restore is the one from before the guard.
  void save(const std::string& name) {
    if (saved_.count(name) != 0) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace vigil::testing::env
