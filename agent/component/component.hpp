#pragma once
// The component contract: every receiver, processor, exporter, connector and extension.
//
// Lifecycle (the Collector's rules): start() may fail, and a failure at startup stops the agent
// with the error. After a successful start a component never crashes the agent: it reports and
// counts. shutdown() is safe without start(), idempotent, flushes what the component holds, and
// returns by the deadline.
//
// Data ownership: consume() takes the batch; after it returns the caller does not touch the
// batch again, whatever the status. consume() may be called concurrently from several threads.

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "agent/component/status.hpp"
#include "agent/model/batch.hpp"

namespace boost::asio {
class io_context;
}

namespace vigil::telemetry {
class Telemetry;
}

namespace vigil::component {

using model::Batch;
using model::Signal;
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Ok: accepted, now the consumer's responsibility. Retryable: refused for now (backpressure).
  // Permanent: rejected. Whatever the result, the batch is gone from the caller.
  virtual Status consume(Batch&& batch) = 0;
  // True when the consumer changes records in place; fan-out then hands it a private copy.
  virtual bool mutates_data() const { return false; }
};

class Extension;

// What a component may use from the agent while it runs.
class Host {
 public:
  virtual ~Host() = default;
  virtual boost::asio::io_context& io_context() = 0;
  virtual telemetry::Telemetry& telemetry() = 0;
  // An extension by its ID ("bearertokenauth/x"), or nullptr.
  virtual Extension* extension(std::string_view id) = 0;
  // True while every pipeline is running (health_check reads it).
  virtual bool pipelines_ready() const = 0;
};

class Component {
 public:
  virtual ~Component() = default;
  virtual Status start(Host& host) = 0;
  virtual void shutdown(Deadline deadline) = 0;
};

// Consumers a receiver (or connector output) feeds, indexed by Signal; nullptr where no
// pipeline takes that signal from it.
using SignalConsumers = std::array<Consumer*, 3>;

class Receiver : public Component {};

class Processor : public Component, public Consumer {};

// The wire side of an exporter. The runtime wraps it with the sending queue and retries.
// send() is called from up to `sending_queue.num_consumers` threads at once.
class Sender : public Component {
 public:
  virtual Status send(const Batch& batch) = 0;
};

class Connector : public Component, public Consumer {};

class Extension : public Component {};

}  // namespace vigil::component
