#include "agent/runtime/fanout.hpp"

namespace vigil::runtime {

Fanout::Fanout(std::vector<component::Consumer*> consumers) : consumers_(std::move(consumers)) {
  for (auto* c : consumers_) mutates_ = mutates_ || c->mutates_data();
}

component::Status Fanout::consume(model::Batch&& batch) {
  if (consumers_.empty()) return component::Status::ok();
  if (consumers_.size() == 1) return consumers_[0]->consume(std::move(batch));
  component::Status worst;
  auto merge = [&worst](component::Status s) {
    if (s.is_ok()) return;
    if (worst.is_ok() || (s.is_permanent() && !worst.is_permanent())) worst = std::move(s);
  };
  // Readers share the records; a mutating consumer needs records nobody else sees. It may take
  // the original only when no reader shares it, so mutators are served first, from copies.
  component::Consumer* last_reader = nullptr;
  for (auto* c : consumers_) {
    if (!c->mutates_data()) last_reader = c;
  }
  component::Consumer* owner = last_reader != nullptr ? last_reader : consumers_.back();
  for (auto* c : consumers_) {
    if (c->mutates_data() && c != owner) merge(c->consume(batch.deep_copy()));
  }
  for (auto* c : consumers_) {
    if (!c->mutates_data() && c != owner) merge(c->consume(batch.share()));
  }
  merge(owner->consume(std::move(batch)));
  return worst;
}

}  // namespace vigil::runtime
