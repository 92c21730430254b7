// vigil: the agent's entry point.
#include <malloc.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/app/cli.hpp"

int main(int argc, char** argv) {
  // A peer closing a socket must not kill the agent.
  std::signal(SIGPIPE, SIG_IGN);
  // Batches free their read buffers and arenas (hundreds of KiB each) all the time. glibc's
  // defaults hand such blocks back to the kernel at once and fault them in again for the next
  // batch: measured on the filelog path, page faults were 85% of the CPU (0.89 vs 0.05 CPU-s per
  // million lines). Keep up to 16 MiB of free heap and serve blocks up to 4 MiB (arena chunks of
  // 1 MiB, a batch's record array) from it.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  // Like the Go runtime does for the Collector: the soft descriptor limit (often 1024) up to the
  // hard one, so filelog's max_concurrent_files (1024) and the network servers fit together.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
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
