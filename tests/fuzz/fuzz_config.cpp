// libFuzzer target: loading and validating a config, as `vigil validate` does with a file.
//
// Input: YAML text. It goes through config::parse_yaml, then expand_env with a fixed fake
// environment (so ${env:...} references resolve the same way on every run), then
// runtime::validate_config against every built-in factory. None of it may crash, hang or leak
// (ASan's leak check runs at exit and libFuzzer's -timeout catches hangs), and the result must be
// consistent: a plan exactly when no error was reported, and every error printable.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/components.hpp"
#include "agent/config/loader.hpp"
#include "agent/runtime/graph.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::optional<std::string> fake_env(std::string_view name) {
  if (name == "HOST") return "127.0.0.1";
  if (name == "PORT") return "4318";
  if (name == "ENDPOINT") return "localhost:4318";
  if (name == "EMPTY") return "";
  if (name == "REF") return "${env:HOST}";  // expansion is not recursive: stays as written
  if (name == "LONG") return std::string(1024, 'x');
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<vigil::component::Factory> factories = vigil::builtin_factories();
  static const vigil::config::EnvLookup env = fake_env;

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vigil::config::Errors errors;
  vigil::config::Value root = vigil::config::parse_yaml(text, "fuzz.yaml", errors);
  vigil::config::expand_env(root, env, errors);
  const std::size_t load_errors = errors.size();
  std::optional<vigil::runtime::Plan> plan =
      vigil::runtime::validate_config(std::move(root), factories, errors);
  // validate_config only appends; it returns a plan exactly when it added no error. (The CLI
  // refuses to run when loading reported errors, whatever validation says.)
  check(errors.size() >= load_errors);
  check(plan.has_value() == (errors.size() == load_errors));
  for (const vigil::config::Error& e : errors) check(!e.str().empty());
  return 0;
}
