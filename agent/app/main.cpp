// vigil: the agent's entry point.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/app/cli.hpp"

int main(int argc, char** argv) {
  // A peer closing a socket must not kill the agent.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    return vigil::app::run_command(vigil::app::parse_command_line(args));
  } catch (const std::exception& e) {
    // Components never throw on the data path; this is the last guard against a stack trace.
    std::fprintf(stderr, "vigil: fatal: %s\n", e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "vigil: fatal: unknown error\n");
    return 1;
  }
}
