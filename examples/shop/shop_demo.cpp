// vigil-shop-demo: writes the demo shop's traffic as JSON log lines, in real time, into a folder
// that Vigil's default config tails (filelog), so `vigil` on its default config shows orders per
// minute, webhook failures and queue lag from the default KPI pack.
//
//   vigil-shop-demo [--dir DIR] [--rate ORDERS_PER_SECOND] [--seconds N]
//
// DIR defaults to $VIGIL_DEMO_LOGS or /tmp/vigil-demo; the file is DIR/shop.log (appended).

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "examples/shop/shop_traffic.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  const char* env_dir = std::getenv("VIGIL_DEMO_LOGS");
  std::string dir = env_dir != nullptr && *env_dir != 0 ? env_dir : "/tmp/vigil-demo";
  double rate = 1.0;
  long seconds = 0;  // 0: until stopped
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (arg == "--rate" && i + 1 < argc) rate = std::atof(argv[++i]);
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::atol(argv[++i]);
    else {
      std::cerr << "usage: vigil-shop-demo [--dir DIR] [--rate ORDERS_PER_SECOND] [--seconds N]\n";
      return 2;
    }
  }
  if (rate <= 0 || rate > 10000) {
    std::cerr << "vigil-shop-demo: --rate must be in (0, 10000]\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/shop.log";
  std::ofstream out(path, std::ios::app);
  if (!out) {
    std::cerr << "vigil-shop-demo: cannot write " << path << "\n";
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::cerr << "vigil-shop-demo: writing about " << rate << " orders/s to " << path << "\n";

  // Ten minutes of traffic at a time, written as the wall clock passes each event's time.
  constexpr std::int64_t kChunkMs = 10 * 60 * 1000;
  const std::int64_t begin = now_ms();
  std::uint64_t seed = static_cast<std::uint64_t>(begin);
  for (std::int64_t start = begin; !g_stop; start += kChunkMs) {
    vigil::examples::shop::Settings s;
    s.seed = seed++;
    s.start_unix_ms = start;
    s.duration_ms = kChunkMs;
    s.orders = static_cast<int>(rate * static_cast<double>(kChunkMs) / 1000.0);
    s.with_otlp = false;
    for (const auto& e : vigil::examples::shop::generate(s)) {
      while (!g_stop && e.time_ms > now_ms()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (g_stop || (seconds > 0 && now_ms() - begin > seconds * 1000)) {
        g_stop = 1;
        break;
      }
      const std::string line = vigil::examples::shop::json_line(e);
      if (!line.empty()) out << line << '\n' << std::flush;
    }
  }
  return 0;
}
