#include "agent/connectors/forward/forward_connector.hpp"

namespace vigil::connectors {
namespace {

class ForwardConnector : public component::Connector {
 public:
  explicit ForwardConnector(component::Consumer& next) : next_(next) {}
  component::Status start(component::Host&) override { return component::Status::ok(); }
  void shutdown(component::Deadline) override {}
  component::Status consume(model::Batch&& batch) override { return next_.consume(std::move(batch)); }
  // It hands the batch it got straight on, so it changes data whenever what follows does.
  bool mutates_data() const override { return next_.mutates_data(); }

 private:
  component::Consumer& next_;
};

}  // namespace

component::Factory forward_connector_factory() {
  component::Factory f;
  f.kind = component::Kind::kConnector;
  f.type = "forward";
  f.description = "Passes data on from one pipeline to others of the same signal.";
  using model::Signal;
  f.connector_signals = {{Signal::kTraces, Signal::kTraces}, {Signal::kMetrics, Signal::kMetrics},
                         {Signal::kLogs, Signal::kLogs}};
  f.create_connector = [](const component::CreateSettings&, Signal, Signal, component::Consumer& next) {
    return std::make_unique<ForwardConnector>(next);
  };
  return f;
}

}  // namespace vigil::connectors
