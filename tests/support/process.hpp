#pragma once
// Test support: start a child process (the agent) with its output in files, signal it, wait for
// it with a bound, and pick free loopback ports. Tests stop what they start by PID.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::testing {

// A port that was free on 127.0.0.1 a moment ago, picked at random below the kernel's ephemeral
// range (so that no outgoing connection takes it before the test's server binds it).
std::uint16_t free_port();

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

class Process {
 public:
  // Starts argv[0] with the given arguments and extra environment; stdout and stderr go to files.
  Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env, const std::string& out_path,
          const std::string& err_path);
  ~Process();  // SIGKILL if still running

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit up to `timeout`; returns the exit code, or -1 on timeout, 128+sig if killed.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string out_path_, err_path_;
};

// Runs a command to completion (bounded); returns the exit code, fills stdout/stderr.
int run(std::vector<std::string> argv, std::string& out, std::string& err,
        std::chrono::milliseconds timeout = std::chrono::seconds(30),
        const std::map<std::string, std::string>& env = {});

// Polls `pred` every 20 ms until it is true or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    struct timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace vigil::testing
