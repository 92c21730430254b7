#pragma once
// What the operators share: reading an operator's config (schema, fields, byte sizes, the keys the
// Collector has and Vigil refuses), on_error handling, the blocks a parser embeds (timestamp,
// severity, trace, body), and copying entries that outlive their batch.
//
// Thread-safety: config types are used while building only; operators are immutable afterwards
// except for per-call scratch (`mutable`), which is safe because one reader thread drives a chain.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config/schema.hpp"
#include "agent/config/value.hpp"
#include "collectors/filelog/operators/field.hpp"
#include "collectors/filelog/operators/operator.hpp"
#include "collectors/filelog/operators/severity.hpp"
#include "collectors/filelog/operators/timestamp.hpp"

namespace vigil::collectors::filelog::ops {

// ---- building ----

enum class OnErrorMode : std::uint8_t { kSend, kSendQuiet, kDrop, kDropQuiet };

// The state of build_operators while it walks the list.
struct BuildContext {
  const std::string& component;
  config::Errors& errors;
  // The body reaching the operator being built is known to be followed by kInputPadding readable
  // bytes (the raw line, or text an earlier operator allocated with padding).
  bool body_padded = true;
};

// One operator's config node while its operator is built. Errors carry the operator's position
// and id, and the location of the offending key or value.
class OpConfig {
 public:
  OpConfig(const config::Value& node, std::size_t position, std::string type, std::string id,
           BuildContext& bc);

  // Checks the node against `schema` (the common keys type/id/on_error are added here) and reports
  // the keys the Collector has but Vigil refuses (`if`, `output`, and `unsupported`: key -> why).
  // False when anything was reported.
  bool validate(config::Schema schema,
                const std::vector<std::pair<std::string, std::string>>& unsupported = {});

  const config::Value& node() const { return node_; }
  const std::string& id() const { return id_; }
  const std::string& type() const { return type_; }
  bool ok() const { return ok_; }
  BuildContext& build() { return bc_; }

  // Typed access to validated options (defaults from the schema given to validate()).
  const config::Value* raw(std::string_view path) const;
  bool has(std::string_view path) const;
  std::string get_string(std::string_view path) const;
  bool get_bool(std::string_view path) const;
  std::int64_t get_int(std::string_view path) const;
  std::chrono::nanoseconds get_duration(std::string_view path) const;
  // Where `path` is written (its key), or the operator's location.
  config::Location location(std::string_view path) const;

  // A field option; `def` ("" for none) when absent. Reports a malformed field.
  std::optional<Field> field(std::string_view path, std::string_view def);
  // A byte size option (123, "64KiB", "1MB"), `def` when absent.
  std::uint64_t byte_size(std::string_view path, std::uint64_t def);
  OnErrorMode on_error() const;

  void error(const config::Location& where, const std::string& message);

 private:
  const config::Value& node_;
  std::string where_;  // "operator 'id' (type)"
  std::string type_;
  std::string id_;
  BuildContext& bc_;
  config::Schema schema_;
  bool ok_ = true;
};

// Parses a byte size as the Collector does: an integer, or a number with kb, kib, mb, mib, gb,
// gib (any case). std::nullopt when malformed.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// ---- entries ----

// Copies `s` into the arena followed by kInputPadding zero bytes, so simdjson can parse it in place.
std::string_view copy_padded(model::Arena& arena, std::string_view s);

// Writes what a parser produced to its parse_to field: merged into a root `attributes`/`resource`,
// else set (a kvlist merging into a kvlist already there).
void write_parsed(model::Arena& arena, Entry& entry, const Field& to, const model::KeyValue* items,
                  std::size_t n);

// A string or bytes value (the receiver's `body_as_bytes` gives bytes) as text.
inline bool is_text(const model::AnyValue& v) {
  return v.type() == model::ValueType::kString || v.type() == model::ValueType::kBytes;
}

// A deep copy of `entry` into `arena`.
Entry copy_entry(model::Arena& arena, const Entry& entry);

// An arena for entries held across batches (recombine, partial container lines), reused while
// small so that holding does not allocate per entry, and dropped when it has grown.
class HoldArena {
 public:
  model::Arena& get();
  // Call when nothing held refers to the arena any more.
  void recycle();

 private:
  std::unique_ptr<model::Arena> arena_;
};

// ---- operators ----

class OperatorBase : public Operator {
 public:
  const std::string& id() const override { return id_; }

 protected:
  explicit OperatorBase(const OpConfig& cfg) : id_(cfg.id()), on_error_(cfg.on_error()) {}

  // A failed entry, per on_error: counted always; `send` marks it with kParseErrorAttribute
  // ("<id>: <what><detail>") and passes it on, `send_quiet` passes it on unmarked, the drop
  // variants drop it.
  void fail(Context& ctx, std::size_t index, Entry& entry, std::string_view what,
            std::string_view detail = {}) const;
  // Marks and counts a problem without deciding the entry's fate (container metadata).
  void mark(Context& ctx, Entry& entry, std::string_view what, std::string_view detail = {}) const;
  bool drops_on_error() const {
    return on_error_ == OnErrorMode::kDrop || on_error_ == OnErrorMode::kDropQuiet;
  }

  std::string id_;
  OnErrorMode on_error_;
};

// The blocks a parser may embed, applied after its own parsing (each independently; the first
// failure is reported).
struct TimeBlock {
  Field parse_from;
  TimeLayout layout;
};
struct SeverityBlock {
  Field parse_from;
  SeverityMapping mapping;
  bool overwrite_text = false;
};
struct TraceBlock {
  Field trace_id;
  Field span_id;
  Field trace_flags;
};

// A failure of an embedded block: a static message and a detail (a field name) to append.
struct Failure {
  const char* what = nullptr;
  std::string_view detail;
  explicit operator bool() const { return what != nullptr; }
};

Failure apply_time(const TimeBlock& block, Context& ctx, Entry& entry);
Failure apply_severity(const SeverityBlock& block, Context& ctx, Entry& entry);
Failure apply_trace(const TraceBlock& block, Entry& entry);

struct Embedded {
  std::optional<Field> body;  // the `body` option: the field that becomes the body after parsing
  std::optional<TimeBlock> time;
  std::optional<SeverityBlock> severity;
  std::optional<TraceBlock> trace;

  Failure apply(Context& ctx, Entry& entry) const;
  // Reads `timestamp`, `severity`, `trace` and `body` from a parser's config.
  void configure(OpConfig& cfg, bool allow_timestamp = true);
  bool writes_body() const { return body.has_value(); }
};

// Schema pieces for validate(). parser_options: parse_from, parse_to, timestamp, severity, trace,
// body.
std::vector<config::Option> parser_options();
config::Option timestamp_option();
config::Option severity_option();
config::Option trace_option();
std::vector<config::Option> timestamp_options(bool parse_from_required);
std::vector<config::Option> severity_options(bool parse_from_required);
// Keys inside embedded blocks the Collector has and Vigil refuses.
std::vector<std::pair<std::string, std::string>> parser_unsupported_keys();

// Reads a timestamp or severity block (the node of the block, or the operator's own node for
// time_parser / severity_parser). Reports problems through cfg.
std::optional<TimeBlock> read_time_block(OpConfig& cfg, const std::string& prefix);
std::optional<SeverityBlock> read_severity_block(OpConfig& cfg, const std::string& prefix);
std::optional<TraceBlock> read_trace_block(OpConfig& cfg, const std::string& prefix);

}  // namespace vigil::collectors::filelog::ops
