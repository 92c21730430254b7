#pragma once
// The filelog receiver's operators (the Collector's stanza operators, the commonly used subset):
// json_parser, regex_parser, container, recombine, move, copy, add, remove, retain,
// severity_parser, time_parser, trace_parser. Built once from the `operators:` list of the
// receiver's config; an unknown type, an unknown option or a Collector feature Vigil lacks (`if`,
// `output`, expressions) is a config error naming it. Implementation: the other files of this
// folder (internal namespace ops); README-operators.md documents the options.
//
// Each operator handles one entry and hands it (or nothing, or several) to the next through
// Chain::next. The chain's last step appends to the batch (the Sink the receiver gives).
// Operators allocate only in Context::arena on the hot path.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/value.hpp"
#include "collectors/filelog/entry.hpp"

namespace vigil::collectors::filelog {

// Input contract (added by the operators): the body of an entry the receiver hands to the chain is
// a string view of the raw line, and at least kInputPadding readable bytes follow it in the same
// buffer (simdjson reads up to that far past the end; the tailer's kLinePadding provides them).
// The JSON and container parsers then parse it in place, without a copy; an operator that
// replaces the body with text of its own (container, recombine) allocates the same padding after
// it. Where an earlier operator may have put something else in the body (move, add, ...), parsers
// copy their input first; that is decided once, when the chain is built.
inline constexpr std::size_t kInputPadding = 64;

// Attributes the operators set. A parser failure with on_error `send` keeps the entry as it was and
// records why in kParseErrorAttribute (a short string); an entry cut at an operator's max_log_size
// carries kTruncatedAttribute = true (the receiver may use the same key for lines it cuts).
inline constexpr std::string_view kParseErrorAttribute = "vigil.parse_error";
inline constexpr std::string_view kTruncatedAttribute = "vigil.truncated";

class Operator {
 public:
  virtual ~Operator() = default;
  // Handles `entry` and calls ctx.chain.next(index + 1, ...) for what goes on.
  virtual void process(Context& ctx, std::size_t index, Entry& entry) const = 0;
  // Emits what the file's state holds (end of a file, shutdown, force flush); default: nothing.
  virtual void flush(Context& /*ctx*/, std::size_t /*index*/) const {}
  // Emits what has been held longer than the operator's force_flush_period.
  virtual void flush_expired(Context& ctx, std::size_t index, std::uint64_t /*now_unix_nano*/) const {
    (void)ctx;
    (void)index;
  }
  // This operator's per-file state, or nullptr when it has none.
  virtual std::unique_ptr<OperatorState> make_state() const { return nullptr; }
  virtual const std::string& id() const = 0;
};

class Chain {
 public:
  using Sink = std::function<void(Context&, Entry&)>;

  Chain() = default;
  Chain(std::vector<std::unique_ptr<Operator>> ops, Sink sink)
      : ops_(std::move(ops)), sink_(std::move(sink)) {}

  // Runs `entry` through operators[index..]; past the last one, into the sink.
  void next(Context& ctx, std::size_t index, Entry& entry) const {
    if (index < ops_.size()) {
      ops_[index]->process(ctx, index, entry);
    } else {
      sink_(ctx, entry);
    }
  }
  void process(Context& ctx, Entry& entry) const { next(ctx, 0, entry); }
  void flush(Context& ctx) const {
    for (std::size_t i = 0; i < ops_.size(); ++i) ops_[i]->flush(ctx, i);
  }
  void flush_expired(Context& ctx, std::uint64_t now_unix_nano) const {
    for (std::size_t i = 0; i < ops_.size(); ++i) ops_[i]->flush_expired(ctx, i, now_unix_nano);
  }
  ChainState make_state() const {
    ChainState s;
    s.slots.reserve(ops_.size());
    for (const auto& op : ops_) s.slots.push_back(op->make_state());
    return s;
  }
  void set_sink(Sink sink) { sink_ = std::move(sink); }
  std::size_t size() const { return ops_.size(); }

 private:
  std::vector<std::unique_ptr<Operator>> ops_;
  Sink sink_;
};

// Builds the operators from the receiver's `operators:` node (a sequence of maps, each with
// `type` and optional `id`). Every problem (unknown type, unknown option, bad regex, bad layout)
// is appended to `errors` with its location; the result is then unusable.
std::vector<std::unique_ptr<Operator>> build_operators(const config::Value* operators,
                                                       const std::string& component_id,
                                                       config::Errors& errors);

// The operator types Vigil has, for error messages and the README.
const std::vector<std::string>& operator_types();

}  // namespace vigil::collectors::filelog
