// vigil_otlp_load: sends OTLP export requests to a receiver and reports throughput, errors and
// Export latency. See load.hpp, and docs/benchmarks.md ("OTLP pipeline") for how it is used.
//
// The last line of the output is machine-readable (key=value), for tests/bench/otlp_pipeline.sh:
//   result requests=... items=... failed=... seconds=... requests_per_s=... items_per_s=...
//          p50_ms=... p90_ms=... p99_ms=... max_ms=...
// Exit status: 0 when at least one request succeeded, 1 when none did, 2 on a usage error.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "tests/bench/otlp_load/load.hpp"

namespace {

using namespace vigil::bench;

constexpr const char* kUsage =
    "usage: vigil_otlp_load --endpoint HOST:PORT [options]\n"
    "  --protocol http|grpc     OTLP/HTTP protobuf (keep-alive) or OTLP/gRPC (default http)\n"
    "  --signal logs|traces     what to send (default logs)\n"
    "  --items N                items per request (default 100)\n"
    "  --record-size BYTES      encoded bytes per item (default 170 for logs, 280 for spans)\n"
    "  --connections N          connections, one request in flight on each (default 8)\n"
    "  --threads N              client threads (default 1)\n"
    "  --duration SECONDS       how long to send (default 10)\n"
    "  --rate N                 requests/s over all connections; 0 = as fast as possible (default 0)\n"
    "  --pool N                 distinct pre-encoded requests, cycled (default 16)\n"
    "  --timeout SECONDS        per Export call (default 10)\n"
    "  --http-path PATH         HTTP path (default /v1/logs or /v1/traces)\n";

bool parse_number(std::string_view text, double& out) {
  const std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

bool parse_int(std::string_view text, int& out, int min) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && out >= min;
}

bool parse_args(int argc, char** argv, Options& o, std::string& error) {
  bool have_endpoint = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      error = std::string(arg) + ": missing value";
      return false;
    }
    const std::string_view v = argv[++i];
    bool ok = true;
    if (arg == "--endpoint") {
      const auto colon = v.rfind(':');
      int port = 0;
      ok = colon != std::string_view::npos && colon > 0 && parse_int(v.substr(colon + 1), port, 1) && port <= 65535;
      if (ok) {
        o.host = std::string(v.substr(0, colon));
        o.port = static_cast<std::uint16_t>(port);
        have_endpoint = true;
      }
    } else if (arg == "--protocol") {
      ok = v == "http" || v == "grpc";
      o.protocol = v == "grpc" ? Protocol::kGrpc : Protocol::kHttp;
    } else if (arg == "--signal") {
      ok = v == "logs" || v == "traces";
      o.signal = v == "traces" ? SignalKind::kTraces : SignalKind::kLogs;
    } else if (arg == "--items") {
      ok = parse_int(v, o.items, 1);
    } else if (arg == "--record-size") {
      ok = parse_int(v, o.record_size, 0);
    } else if (arg == "--connections") {
      ok = parse_int(v, o.connections, 1);
    } else if (arg == "--threads") {
      ok = parse_int(v, o.threads, 1);
    } else if (arg == "--duration") {
      ok = parse_number(v, o.duration_s) && o.duration_s > 0;
    } else if (arg == "--rate") {
      ok = parse_number(v, o.rate) && o.rate >= 0;
    } else if (arg == "--pool") {
      ok = parse_int(v, o.pool, 1);
    } else if (arg == "--timeout") {
      ok = parse_number(v, o.timeout_s) && o.timeout_s > 0;
    } else if (arg == "--http-path") {
      ok = !v.empty() && v[0] == '/';
      o.http_path = std::string(v);
    } else {
      error = "unknown option " + std::string(arg);
      return false;
    }
    if (!ok) {
      error = "bad value for " + std::string(arg) + ": " + std::string(v);
      return false;
    }
  }
  if (!have_endpoint) {
    error = "--endpoint is required";
    return false;
  }
  return true;
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  if (!parse_args(argc, argv, options, error)) {
    std::fprintf(stderr, "vigil_otlp_load: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  try {
    const std::string rate = options.rate > 0 ? std::to_string(static_cast<long long>(options.rate)) + " requests/s" : "max";
    double bytes_per_item = 0;
    const std::vector<Request> requests = build_requests(options, bytes_per_item);
    std::printf("vigil_otlp_load: %s %s to %s:%u, %d items/request (%.1f bytes/item, %zu bytes/request), "
                "%d connections, %d threads, %.1f s, rate %s\n",
                options.protocol == Protocol::kGrpc ? "grpc" : "http",
                options.signal == SignalKind::kLogs ? "logs" : "traces", options.host.c_str(),
                static_cast<unsigned>(options.port), options.items, bytes_per_item, requests.front().body.size(),
                options.connections, options.threads, options.duration_s,
                rate.c_str());
    std::fflush(stdout);

    Schedule schedule(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(options.duration_s)),
                      options.rate);
    Stats stats = options.protocol == Protocol::kGrpc ? run_grpc(options, requests, schedule)
                                                      : run_http(options, requests, schedule);
    const Clock::time_point start = schedule.start();
    const Clock::time_point end = std::max(stats.last_completion, start + std::chrono::milliseconds(1));
    const double seconds = std::chrono::duration<double>(end - start).count();

    std::sort(stats.latency_us.begin(), stats.latency_us.end());
    std::string errors;
    for (const auto& [kind, n] : stats.errors) errors += " " + kind + "=" + std::to_string(n);
    std::printf("errors:%s\n", errors.empty() ? " none" : errors.c_str());
    std::printf(
        "result requests=%llu items=%llu failed=%llu seconds=%.3f requests_per_s=%.1f items_per_s=%.0f "
        "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
        static_cast<unsigned long long>(stats.ok_requests), static_cast<unsigned long long>(stats.ok_items),
        static_cast<unsigned long long>(stats.failed_requests), seconds, static_cast<double>(stats.ok_requests) / seconds,
        static_cast<double>(stats.ok_items) / seconds, percentile_ms(stats.latency_us, 50),
        percentile_ms(stats.latency_us, 90), percentile_ms(stats.latency_us, 99),
        stats.latency_us.empty() ? 0.0 : stats.latency_us.back() / 1000.0);
    return stats.ok_requests > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil_otlp_load: %s\n", e.what());
    return 1;
  }
}
