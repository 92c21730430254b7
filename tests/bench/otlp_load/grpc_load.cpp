// OTLP/gRPC load: raw ByteBuffer unary calls through grpc::GenericStub on the Export methods, so
// no libprotobuf message is built or parsed per call. One channel per connection (each with its
// own subchannel, hence its own HTTP/2 connection), one call in flight per channel, driven by a
// CompletionQueue per worker thread; pacing uses grpc::Alarm on the same queue.

#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/otlp_load/load.hpp"

namespace vigil::bench {

namespace {

std::string status_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "grpc_" + std::to_string(static_cast<int>(code));
  }
}

struct PooledRequest {
  grpc::ByteBuffer buffer;  // shares the slice: copying it per call is a reference count
  std::size_t items = 0;
};

// One connection: a channel and the one call in flight on it.
struct Slot {
  enum class Tag : std::uintptr_t { kAlarm = 0, kCall = 1, kPause = 2 };

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  std::size_t next_request = 0;
  bool running = true;

  // The call in flight (or the alarm waited on).
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::Alarm> alarm;
  Clock::time_point sent{};
  std::size_t items = 0;

  void* tag(Tag t) { return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(this) | static_cast<std::uintptr_t>(t)); }
  static Slot* from(void* tag, Tag& t) {
    const auto v = reinterpret_cast<std::uintptr_t>(tag);
    t = static_cast<Tag>(v & 3u);
    return reinterpret_cast<Slot*>(v & ~std::uintptr_t{3});
  }
};

class Worker {
 public:
  Worker(const Options& options, const std::string& method, const std::vector<PooledRequest>& requests,
         Schedule& schedule, Stats& stats)
      : options_(options), method_(method), requests_(requests), schedule_(schedule), stats_(stats) {}

  void add(int index) {
    grpc::ChannelArguments args;
    // A separate subchannel per channel: each channel gets its own TCP connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("vigil.bench.connection", index);
    args.SetMaxReceiveMessageSize(-1);
    auto slot = std::make_unique<Slot>();
    slot->channel = grpc::CreateCustomChannel(options_.host + ":" + std::to_string(options_.port),
                                              grpc::InsecureChannelCredentials(), args);
    slot->stub = std::make_unique<grpc::GenericStub>(slot->channel);
    slot->next_request = static_cast<std::size_t>(index) % requests_.size();
    slots_.push_back(std::move(slot));
    ++active_;
  }

  // Connects every channel, waiting until `deadline` at most; a channel that cannot connect
  // fails its calls, counted.
  void connect(std::chrono::system_clock::time_point deadline) {
    for (auto& s : slots_) s->channel->WaitForConnected(deadline);
  }

  void run() {
    for (auto& s : slots_) next(*s);
    void* tag = nullptr;
    bool ok = false;
    while (active_ > 0 && cq_.Next(&tag, &ok)) {
      Slot::Tag t;
      Slot* s = Slot::from(tag, t);
      if (t == Slot::Tag::kAlarm) {
        s->alarm.reset();
        send(*s);
      } else if (t == Slot::Tag::kPause) {
        s->alarm.reset();
        next(*s);
      } else if (done(*s)) {
        next(*s);
      } else {
        // No connection: pause before the next call instead of failing calls in a tight loop.
        s->alarm = std::make_unique<grpc::Alarm>();
        s->alarm->Set(&cq_, std::chrono::system_clock::now() + std::chrono::milliseconds(100), s->tag(Slot::Tag::kPause));
      }
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
  }

 private:
  void next(Slot& s) {
    Clock::time_point due;
    if (!schedule_.next(due)) {
      s.running = false;
      --active_;
      return;
    }
    const Clock::time_point now = Clock::now();
    if (due <= now) {
      send(s);
      return;
    }
    s.alarm = std::make_unique<grpc::Alarm>();
    s.alarm->Set(&cq_, std::chrono::system_clock::now() + (due - now), s.tag(Slot::Tag::kAlarm));
  }

  void send(Slot& s) {
    const PooledRequest& r = requests_[s.next_request];
    s.next_request = (s.next_request + 1) % requests_.size();
    s.items = r.items;
    s.context = std::make_unique<grpc::ClientContext>();
    s.context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(options_.timeout_s)));
    s.response.Clear();
    s.sent = Clock::now();
    s.reader = s.stub->PrepareUnaryCall(s.context.get(), method_, r.buffer, &cq_);
    s.reader->StartCall();
    s.reader->Finish(&s.response, &s.status, s.tag(Slot::Tag::kCall));
  }

  // False when the call failed for want of a connection.
  bool done(Slot& s) {
    stats_.record(s.sent, Clock::now());
    s.reader.reset();
    s.context.reset();
    if (s.status.ok()) {
      ++stats_.ok_requests;
      stats_.ok_items += s.items;
      return true;
    }
    stats_.error(status_name(s.status.error_code()));
    return s.status.error_code() != grpc::StatusCode::UNAVAILABLE || s.channel->GetState(false) == GRPC_CHANNEL_READY;
  }

  const Options& options_;
  const std::string& method_;
  const std::vector<PooledRequest>& requests_;
  Schedule& schedule_;
  Stats& stats_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int active_ = 0;
};

}  // namespace

Stats run_grpc(const Options& options, const std::vector<Request>& requests, Schedule& schedule) {
  const std::string method = options.signal == SignalKind::kLogs
                                 ? "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
                                 : "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  std::vector<PooledRequest> pool;
  pool.reserve(requests.size());
  for (const Request& r : requests) {
    grpc::Slice slice(r.body);
    PooledRequest p;
    p.buffer = grpc::ByteBuffer(&slice, 1);
    p.items = r.items;
    pool.push_back(std::move(p));
  }

  const int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<Stats> stats(static_cast<std::size_t>(threads));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t)
    workers.push_back(std::make_unique<Worker>(options, method, pool, schedule, stats[static_cast<std::size_t>(t)]));
  for (int c = 0; c < options.connections; ++c) workers[static_cast<std::size_t>(c % threads)]->add(c);

  const auto connect_deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  for (auto& w : workers) w->connect(connect_deadline);
  schedule.begin();

  std::vector<std::thread> running;
  for (int t = 1; t < threads; ++t) running.emplace_back([&, t] { workers[static_cast<std::size_t>(t)]->run(); });
  workers[0]->run();
  for (auto& r : running) r.join();

  Stats all;
  for (Stats& s : stats) all.merge(std::move(s));
  return all;
}

}  // namespace vigil::bench
