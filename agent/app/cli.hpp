#pragma once
// The command line: `vigil [--config FILE]...`, `vigil validate`, `vigil components`,
// `vigil version`, `vigil --help`. Parsing is separate from running so tests can check it.

#include <string>
#include <string_view>
#include <vector>

#include "agent/component/factory.hpp"

namespace vigil::app {

struct Command {
  enum class Kind { kRun, kValidate, kComponents, kVersion, kHelp, kUsageError };
  Kind kind = Kind::kRun;
  std::vector<std::string> config_paths;
  std::string error;  // kUsageError
};

Command parse_command_line(const std::vector<std::string>& args);  // args without argv[0]

std::string_view default_config_text();
std::string_view version();
std::string usage();
// `vigil components`: one line per component: kind, type, signals, description.
std::string components_table(const std::vector<component::Factory>& factories);

// Runs a command; returns the process exit code (0 ok, 1 failure or invalid config, 2 usage).
int run_command(const Command& command);

}  // namespace vigil::app
