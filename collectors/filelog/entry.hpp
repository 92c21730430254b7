#pragma once
// The unit the filelog receiver's operators work on: one log record and its resource attributes,
// built in the arena of the batch being assembled (the Collector's stanza `entry.Entry`).
//
// Ownership: every view in an Entry points into `arena` of the Context that carries it, or into
// buffers that arena adopted. An operator that keeps an entry past the call (recombine, the
// container parser's partial lines) copies what it keeps into its own per-file State and copies
// it back into the current arena when it emits.
// Thread-safety: none; one reader thread drives a chain.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/logs.hpp"

namespace vigil::collectors::filelog {

struct Entry {
  model::LogRecord record;       // body, attributes, time, severity
  model::Attributes resource;    // resource attributes (k8s.* from the container parser)
  std::uint64_t offset = 0;      // byte offset in its file of the first line that made this entry
};

// Counters an operator bumps; the receiver exports them as self-metrics.
struct OperatorStats {
  std::uint64_t parse_errors = 0;          // parser failures (raw line kept, error attribute set)
  std::uint64_t truncated = 0;             // recombined entries cut at max_log_size
};

// Per-file mutable state of a chain (recombine buffers, partial CRI/Docker lines). Each operator
// that needs state stores it in its own slot, indexed by the operator's position in the chain.
struct OperatorState {
  virtual ~OperatorState() = default;
  // Smallest Entry::offset this state holds and has not emitted, if any. The file's checkpoint
  // never passes it, so a restart re-reads what was held.
  virtual std::optional<std::uint64_t> held_since() const = 0;
};

struct ChainState {
  std::vector<std::unique_ptr<OperatorState>> slots;  // one per operator, nullptr if stateless
  std::optional<std::uint64_t> held_since() const {
    std::optional<std::uint64_t> min;
    for (const auto& s : slots) {
      if (!s) continue;
      auto h = s->held_since();
      if (h && (!min || *h < *min)) min = h;
    }
    return min;
  }
};

class Chain;

// What an operator gets with each entry: the arena to build in, the file's state, and the way
// to the next operator (or to the batch, after the last one).
struct Context {
  model::Arena& arena;
  ChainState& state;
  OperatorStats& stats;
  const Chain& chain;
  std::string_view file_path;  // the entry's file (k8s metadata, recombine's default source)
  std::uint64_t now_unix_nano = 0;
};

}  // namespace vigil::collectors::filelog
