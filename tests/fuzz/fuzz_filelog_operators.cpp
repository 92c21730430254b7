// libFuzzer target: the filelog operators on arbitrary lines (what a log file may hold).
//
// Input: byte 0 picks a chain (byte % 4): container (auto) + json_parser with timestamp and
// severity; regex_parser + severity_parser; json_parser + recombine on a body field; container
// (docker) + move/add/remove. The rest is split at '\n' into lines, each fed as the receiver
// feeds it: a string body followed by kInputPadding readable bytes, a file path under
// /var/log/pods, offsets increasing. Then the chain is flushed. Properties: no crash, no
// sanitizer report, and every record that comes out is readable (its body and attributes are
// walked), whatever the operators held across lines.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/loader.hpp"
#include "agent/model/arena.hpp"
#include "collectors/filelog/operators/operator.hpp"

namespace {

namespace fl = vigil::collectors::filelog;
using vigil::model::AnyValue;
using vigil::model::ValueType;

const char* const kChains[] = {
    "- type: container\n"
    "- type: json_parser\n"
    "  timestamp: {parse_from: attributes.ts, layout_type: gotime, layout: '2006-01-02T15:04:05.999999999Z07:00'}\n"
    "  severity: {parse_from: attributes.level}\n",
    "- type: regex_parser\n"
    "  regex: '^(?P<time>\\S+) (?P<level>[A-Z]+) (?P<msg>.*)$'\n"
    "  timestamp: {parse_from: attributes.time, layout: '%Y-%m-%dT%H:%M:%S.%f%z'}\n"
    "- type: severity_parser\n"
    "  parse_from: attributes.level\n",
    "- type: json_parser\n"
    "  parse_to: body\n"
    "- type: recombine\n"
    "  combine_field: body.msg\n"
    "  is_first_entry: body.msg matches \"^[^\\\\s]\"\n"
    "  max_log_size: 4096\n",
    "- type: container\n"
    "  format: docker\n"
    "- type: move\n"
    "  from: attributes.log.iostream\n"
    "  to: resource.stream\n"
    "- type: add\n"
    "  field: attributes.env\n"
    "  value: prod\n"
    "- type: remove\n"
    "  field: attributes.time\n",
};

std::size_t walk(const AnyValue& v, int depth = 0) {
  std::size_t n = 1;
  if (depth > 200) __builtin_trap();  // the JSON reader bounds nesting well below this
  if (v.type() == ValueType::kString || v.type() == ValueType::kBytes) {
    volatile char sink = 0;
    for (char c : v.string_value()) sink = static_cast<char>(sink ^ c);
  } else if (v.type() == ValueType::kArray) {
    for (std::uint32_t i = 0; i < v.size(); ++i) n += walk(v.array_begin()[i], depth + 1);
  } else if (v.type() == ValueType::kKvList) {
    for (std::uint32_t i = 0; i < v.size(); ++i) n += walk(v.kvlist_begin()[i].value, depth + 1);
  }
  return n;
}

std::size_t g_seen = 0;  // values walked, so the walk is not optimised away

// The chains, built once (building compiles RE2 patterns and layouts).
const fl::Chain& chain(std::size_t i) {
  static fl::Chain chains[4];
  static bool ready[4] = {};
  if (!ready[i]) {
    vigil::config::Errors errors;
    vigil::config::Value node = vigil::config::parse_yaml(kChains[i], "fuzz.yaml", errors);
    if (!errors.empty()) __builtin_trap();
    auto ops = fl::build_operators(&node, "filelog", errors);
    if (!errors.empty() || ops.empty()) __builtin_trap();
    chains[i] = fl::Chain(std::move(ops), [](fl::Context&, fl::Entry& e) {
      g_seen += walk(e.record.body);
      for (const auto& kv : e.record.attributes) g_seen += walk(kv.value);
      for (const auto& kv : e.resource) g_seen += walk(kv.value);
    });
    ready[i] = true;
  }
  return chains[i];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  const fl::Chain& c = chain(data[0] % 4);
  {
    vigil::model::Arena arena;
    fl::ChainState state = c.make_state();
    fl::OperatorStats stats;
    const std::string_view path = "/var/log/pods/shop_checkout_0f1e/app/0.log";
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::uint64_t offset = 0;
    std::size_t start = 0;
    while (start <= input.size()) {
      std::size_t end = input.find('\n', start);
      if (end == std::string_view::npos) end = input.size();
      // The line in its own buffer with the padding the parsers may read past its end.
      std::string buffer(input.substr(start, end - start));
      const std::size_t len = buffer.size();
      buffer.resize(len + fl::kInputPadding, '\0');
      fl::Entry entry;
      entry.offset = offset;
      entry.record.body = AnyValue::string(std::string_view(arena.copy(buffer).data(), len));
      fl::Context ctx{arena, state, stats, c, path, 1'000'000'000ull * (offset + 1)};
      c.process(ctx, entry);
      offset += end - start + 1;
      start = end + 1;
    }
    fl::Context ctx{arena, state, stats, c, path, 1'000'000'000ull * (offset + 10)};
    c.flush_expired(ctx, ctx.now_unix_nano);
    c.flush(ctx);
  }
  return 0;
}
