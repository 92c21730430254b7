#include "agent/app/cli.hpp"

#include <cstdio>
#include <iostream>

#include "agent/components.hpp"
#include "agent/config/loader.hpp"
#include "agent/runtime/service.hpp"
#include "agent/telemetry/log.hpp"

namespace vigil::app {
namespace {

runtime::ConfigSource source_for(const Command& command) {
  runtime::ConfigSource source;
  source.paths = command.config_paths;
  source.embedded_text = std::string(default_config_text());
  return source;
}

runtime::Service* g_service = nullptr;

}  // namespace

std::string_view version() { return VIGIL_VERSION; }

std::string usage() {
  return "Vigil " + std::string(version()) +
         " - observability agent and telemetry pipeline\n"
         "\n"
         "Usage:\n"
         "  vigil [--config FILE]...            run (the embedded default config when no --config is given)\n"
         "  vigil validate [--config FILE]...   check the config; exit 0 when valid, 1 when not\n"
         "  vigil components                    list the built-in components\n"
         "  vigil version                       print the version\n"
         "  vigil --help                        this text\n"
         "\n"
         "Options:\n"
         "  --config FILE, --config=FILE        a YAML config file; repeat to merge several files in order\n"
         "\n"
         "Signals: SIGTERM or SIGINT drain and exit; SIGHUP reloads the config files.\n";
}

Command parse_command_line(const std::vector<std::string>& args) {
  Command c;
  std::size_t i = 0;
  if (!args.empty()) {
    const std::string& first = args[0];
    if (first == "validate") {
      c.kind = Command::Kind::kValidate;
      i = 1;
    } else if (first == "components") {
      c.kind = Command::Kind::kComponents;
      i = 1;
    } else if (first == "version" || first == "--version") {
      c.kind = Command::Kind::kVersion;
      i = 1;
    } else if (first == "help" || first == "--help" || first == "-h") {
      c.kind = Command::Kind::kHelp;
      return c;
    }
  }
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      c.kind = Command::Kind::kHelp;
      return c;
    }
    if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        c = Command{Command::Kind::kUsageError, {}, "--config needs a file path"};
        return c;
      }
      c.config_paths.push_back(args[++i]);
      continue;
    }
    if (a.rfind("--config=", 0) == 0) {
      std::string path = a.substr(9);
      if (path.empty()) {
        c = Command{Command::Kind::kUsageError, {}, "--config= needs a file path"};
        return c;
      }
      c.config_paths.push_back(path);
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      c = Command{Command::Kind::kUsageError, {}, "unknown flag '" + a + "'"};
      return c;
    }
    c = Command{Command::Kind::kUsageError, {}, "unexpected argument '" + a + "'"};
    return c;
  }
  if ((c.kind == Command::Kind::kComponents || c.kind == Command::Kind::kVersion) && !c.config_paths.empty()) {
    return Command{Command::Kind::kUsageError, {}, "this command takes no --config"};
  }
  return c;
}

std::string components_table(const std::vector<component::Factory>& factories) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-16s %-24s %s\n", "KIND", "TYPE", "SIGNALS", "DESCRIPTION");
  out += line;
  for (const auto& f : factories) {
    std::string signals;
    if (f.kind == component::Kind::kConnector) {
      for (auto [in, o] : f.connector_signals) {
        if (!signals.empty()) signals += ",";
        signals += std::string(model::signal_name(in)) + "->" + std::string(model::signal_name(o));
      }
    } else {
      for (auto s : f.signals) {
        if (!signals.empty()) signals += ",";
        signals += model::signal_name(s);
      }
    }
    if (signals.empty()) signals = "-";
    std::snprintf(line, sizeof line, "%-10s %-16s %-24s %s\n", std::string(component::kind_name(f.kind)).c_str(),
                  f.type.c_str(), signals.c_str(), f.description.c_str());
    out += line;
  }
  return out;
}

int run_command(const Command& command) {
  switch (command.kind) {
    case Command::Kind::kUsageError:
      std::fprintf(stderr, "vigil: %s (see vigil --help)\n", command.error.c_str());
      return 2;
    case Command::Kind::kHelp:
      std::fputs(usage().c_str(), stdout);
      return 0;
    case Command::Kind::kVersion:
      std::printf("vigil %s\n", std::string(version()).c_str());
      return 0;
    case Command::Kind::kComponents:
      std::fputs(components_table(builtin_factories()).c_str(), stdout);
      return 0;
    case Command::Kind::kValidate: {
      config::Errors errors;
      auto plan = runtime::load_plan(source_for(command), builtin_factories(), config::process_env(), errors);
      if (!plan) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.str().c_str());
        std::fprintf(stderr, "vigil: the config is invalid (%zu error%s)\n", errors.size(), errors.size() == 1 ? "" : "s");
        return 1;
      }
      std::printf("vigil: the config is valid (%zu pipeline%s)\n", plan->pipelines.size(),
                  plan->pipelines.size() == 1 ? "" : "s");
      return 0;
    }
    case Command::Kind::kRun: {
      runtime::Service service(builtin_factories(), source_for(command), config::process_env());
      g_service = &service;
      int rc = service.run();
      g_service = nullptr;
      return rc;
    }
  }
  return 2;
}

}  // namespace vigil::app
