#pragma once
// vigil_otlp_load: an OTLP load generator for the pipeline benchmark (tests/bench/otlp_pipeline.sh).
// It sends pre-encoded Export*ServiceRequests over OTLP/HTTP (protobuf, keep-alive) or OTLP/gRPC
// from a few connections, flat out or at a target rate, and reports requests/s, items/s, errors
// by kind and the latency of Export calls.
//
// The requests are encoded once, before the clock starts (a small pool, cycled), so the
// generator spends its CPU on the network and not on building data.
//
// Threading: each worker thread owns an event loop (an io_context for HTTP, a CompletionQueue
// for gRPC) and the connections assigned to it; the only state shared between threads is the
// Schedule (atomics). Each worker fills its own Stats, merged at the end.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::bench {

using Clock = std::chrono::steady_clock;

enum class Protocol { kHttp, kGrpc };
enum class SignalKind { kLogs, kTraces };

struct Options {
  Protocol protocol = Protocol::kHttp;
  SignalKind signal = SignalKind::kLogs;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string http_path;               // default /v1/logs or /v1/traces
  int items = 100;                     // per request
  int record_size = 0;                 // target encoded bytes per item; 0: 170 (logs), 280 (spans)
  int connections = 8;
  int threads = 1;
  double duration_s = 10;
  double rate = 0;                     // requests/s over all connections; 0: as fast as possible
  int pool = 16;                       // distinct pre-encoded requests
  double timeout_s = 10;               // per Export call
};

// One pre-encoded request and how many items it carries.
struct Request {
  std::string body;
  std::size_t items = 0;
};

// Builds `options.pool` requests; `bytes_per_item` receives the encoded size of one item.
std::vector<Request> build_requests(const Options& options, double& bytes_per_item);

// Hands out send times. Without a rate every request may go now; with a rate, request k is due
// at start + k / rate. Nothing is handed out past the end of the run.
class Schedule {
 public:
  Schedule(std::chrono::nanoseconds duration, double rate) : duration_(duration), rate_(rate) { begin(); }
  // Starts the clock (again): called once the connections are up, before any request.
  void begin() {
    start_ = Clock::now();
    end_ = start_ + duration_;
  }
  // false when the run is over; else `due` is when the next request should be sent.
  bool next(Clock::time_point& due) {
    const Clock::time_point now = Clock::now();
    if (now >= end_) return false;
    if (rate_ <= 0) {
      due = now;
      return true;
    }
    const std::uint64_t k = issued_.fetch_add(1, std::memory_order_relaxed);
    due = start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(k) * 1e9 / rate_));
    return due < end_;
  }
  Clock::time_point start() const { return start_; }
  Clock::time_point end() const { return end_; }

 private:
  std::chrono::nanoseconds duration_;
  Clock::time_point start_;
  Clock::time_point end_;
  double rate_;
  std::atomic<std::uint64_t> issued_{0};
};

struct Stats {
  std::uint64_t ok_requests = 0;
  std::uint64_t ok_items = 0;
  std::uint64_t failed_requests = 0;
  std::map<std::string, std::uint64_t> errors;  // kind ("http_503", "UNAVAILABLE", "connect") -> count
  std::vector<std::uint32_t> latency_us;        // of every completed Export call, ok or not
  Clock::time_point last_completion{};

  void record(Clock::time_point sent, Clock::time_point done) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - sent).count();
    if (latency_us.size() < kMaxSamples) latency_us.push_back(static_cast<std::uint32_t>(us < 0 ? 0 : us));
    if (done > last_completion) last_completion = done;
  }
  void error(const std::string& kind) {
    ++failed_requests;
    ++errors[kind];
  }
  void merge(Stats&& other);

  static constexpr std::size_t kMaxSamples = 50'000'000;
};

// Run the load until the schedule ends, then wait for the calls in flight (bounded by the
// per-call timeout). Each returns the stats of all its workers merged.
Stats run_http(const Options& options, const std::vector<Request>& requests, Schedule& schedule);
Stats run_grpc(const Options& options, const std::vector<Request>& requests, Schedule& schedule);

}  // namespace vigil::bench
