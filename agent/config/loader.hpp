#pragma once
// Loading the config: YAML files parsed with locations, merged in order, ${env:...} expanded.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/value.hpp"

namespace vigil::config {

// Largest config file accepted; larger ones are refused with a clear error.
inline constexpr std::size_t kMaxConfigFileBytes = 4 * 1024 * 1024;

// Looks up an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

// Parses YAML text. Duplicate keys, syntax errors and over-deep nesting are errors with their
// location. Never throws.
Value parse_yaml(std::string_view text, const std::string& file_name, Errors& errors);

// Reads and parses one file (missing, unreadable and oversized files are errors).
Value load_file(const std::string& path, Errors& errors);

// Merges `from` into `into`: maps merge key by key, recursively; anything else is replaced.
void merge(Value& into, Value&& from);

// Expands ${env:VAR}, ${VAR}, ${env:VAR:-default} and ${VAR:-default} in every scalar; $$ is a
// literal $. An unset variable without a default expands to "" (as in the Collector). A
// malformed reference is an error.
void expand_env(Value& root, const EnvLookup& env, Errors& errors);

// All of the above for a list of files (an empty list is an error).
Value load_files(const std::vector<std::string>& paths, const EnvLookup& env, Errors& errors);

}  // namespace vigil::config
