#pragma once
// A component's options, declared once with type, default and help text, so validation, defaults
// and documentation cannot drift (Fluent Bit's config map). Settings reads a validated config.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/value.hpp"

namespace vigil::config {

enum class OptionType {
  kBool,
  kInt,
  kDouble,
  kString,
  kDuration,    // Go syntax, as in the Collector: "200ms", "1m30s", "0"
  kStringList,  // sequence of scalars
  kStringMap,   // map of scalar to scalar (headers)
  kObject,      // map with declared children
  kAny,         // anything; the component's validate() checks it
};

struct Option {
  std::string name;
  OptionType type = OptionType::kString;
  std::string default_value;  // scalar text; empty means no default
  std::string help;
  bool required = false;
  std::optional<double> min;  // kInt, kDouble, kDuration (in seconds)
  std::optional<double> max;
  std::vector<std::string> allowed;  // kString: one of these
  std::vector<Option> children;      // kObject
};

using Schema = std::vector<Option>;

// Builders for readable schema tables.
Option opt_bool(std::string name, bool def, std::string help);
Option opt_int(std::string name, std::int64_t def, std::string help,
               std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
Option opt_double(std::string name, double def, std::string help,
                  std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
Option opt_string(std::string name, std::string def, std::string help, std::vector<std::string> allowed = {});
Option opt_duration(std::string name, std::string def, std::string help,
                    std::optional<double> min_seconds = std::nullopt, std::optional<double> max_seconds = std::nullopt);
Option opt_string_list(std::string name, std::string help);
Option opt_string_map(std::string name, std::string help);
Option opt_object(std::string name, std::string help, std::vector<Option> children);
Option opt_any(std::string name, std::string help);
Option required(Option o);

// Parses a Go-style duration. std::nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// Checks `node` (a component's config; null means empty) against `schema`: unknown keys, wrong
// types, out-of-range and disallowed values, missing required options. Every problem is appended
// to `errors` with its location; `component` names the component ID in each error.
void validate(const Schema& schema, const Value* node, const Location& fallback,
              const std::string& component, Errors& errors);

// Typed, defaulted access to a validated component config. Paths are dotted
// ("sending_queue.queue_size"). Getters on an undeclared path or a wrong type are programming
// errors: they return the type's zero value.
class Settings {
 public:
  Settings(const Schema* schema, const Value* node, Location location)
      : schema_(schema), node_(node), location_(std::move(location)) {}

  // True when the user wrote the key (even with an empty value, as in `http:`).
  bool has(std::string_view path) const;
  bool get_bool(std::string_view path) const;
  std::int64_t get_int(std::string_view path) const;
  double get_double(std::string_view path) const;
  std::string get_string(std::string_view path) const;
  std::chrono::nanoseconds get_duration(std::string_view path) const;
  std::vector<std::string> get_string_list(std::string_view path) const;
  std::vector<std::pair<std::string, std::string>> get_string_map(std::string_view path) const;
  // The raw node (kAny options), or nullptr.
  const Value* raw(std::string_view path) const;
  // Where the option was written, or the component's location.
  Location location(std::string_view path = {}) const;
  const Value* node() const { return node_; }

 private:
  const Option* option(std::string_view path) const;
  const Value* value(std::string_view path) const;

  const Schema* schema_;
  const Value* node_;
  Location location_;
};

}  // namespace vigil::config
