#pragma once
// Fan-out of one batch to several consumers (a pipeline to its exporters, a receiver to its
// pipelines). Consumers that mutate data get a private deep copy; read-only consumers share the
// records. The last consumer gets the original.
//
// Status: the worst of the consumers' results (permanent over retryable over ok), as the
// Collector's fanout does; a client that retries may then deliver duplicates to the consumers
// that had accepted. Thread-safety: consume() is safe concurrently when the children's are.

#include <vector>

#include "agent/component/component.hpp"

namespace vigil::runtime {

class Fanout : public component::Consumer {
 public:
  explicit Fanout(std::vector<component::Consumer*> consumers);
  component::Status consume(model::Batch&& batch) override;
  bool mutates_data() const override { return mutates_; }

 private:
  std::vector<component::Consumer*> consumers_;
  bool mutates_ = false;
};

// A pipeline's entry point: the first processor (or the exporters' fan-out), reporting whether
// anything along the chain changes data in place.
class PipelineHead : public component::Consumer {
 public:
  PipelineHead(component::Consumer* first, bool mutates) : first_(first), mutates_(mutates) {}
  component::Status consume(model::Batch&& batch) override { return first_->consume(std::move(batch)); }
  bool mutates_data() const override { return mutates_; }

 private:
  component::Consumer* first_;
  bool mutates_;
};

}  // namespace vigil::runtime
