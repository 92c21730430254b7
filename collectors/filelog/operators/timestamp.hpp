#pragma once
// Timestamp layouts of the stanza operators, compiled once and parsed without allocation:
//   strptime  the Collector's directives (%Y %m %d %H %M %S %L %f %s %z %Z %b %a %p ...; see
//             README-operators.md), compiled to the same tokens as a Go layout;
//   gotime    Go reference layouts ("2006-01-02T15:04:05.999999999Z07:00", "Jan _2 15:04:05");
//   epoch     s, ms, us, ns, s.ms, s.us, s.ns, from strings, integers or doubles.
// Parsing follows Go's time.Parse (which the Collector uses for both text layouts): numbers
// padded as the layout says, a fraction after the seconds accepted even when the layout has
// none, a missing year taken from the current date (a date more than 7 days ahead is last year).
//
// Thread-safety: immutable after compile; parse from any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/common.hpp"
#include "collectors/filelog/operators/timezone.hpp"

namespace vigil::collectors::filelog::ops {

class TimeLayout {
 public:
  enum class Type : std::uint8_t { kStrptime, kGotime, kEpoch };

  // Compiles `layout` of `layout_type` (strptime | gotime | epoch); `location` is the zone of
  // times without an offset ("" = UTC). On failure returns false and says why in `error`.
  bool compile(std::string_view layout_type, std::string_view layout, std::string_view location,
               std::string& error);

  // Parses a value into nanoseconds since the epoch. Strings for every type; integers and doubles
  // for epoch. `now_unix_nano` supplies a missing year (0: the system clock). On failure returns
  // false with a static message in `error`.
  bool parse(const model::AnyValue& value, std::uint64_t now_unix_nano, std::uint64_t& out,
             const char*& error) const;
  bool parse(std::string_view text, std::uint64_t now_unix_nano, std::uint64_t& out,
             const char*& error) const;

  Type type() const { return type_; }

 private:
  enum class Tok : std::uint8_t;
  struct Token {
    Tok kind;
    std::uint8_t width = 0;  // digits of an exact fraction; form of a numeric offset
    bool separator = false;  // fraction: starts with '.' or ','
    std::string literal;
  };
  enum class Epoch : std::uint8_t { kS, kMs, kUs, kNs, kSMs, kSUs, kSNs };

  bool compile_strptime(std::string_view layout, std::string& error);
  bool compile_gotime(std::string_view layout, std::string& error);
  void add_literal(char c);
  bool parse_epoch_text(std::string_view text, std::uint64_t& out, const char*& error) const;

  Type type_ = Type::kStrptime;
  Epoch epoch_ = Epoch::kS;
  std::vector<Token> tokens_;
  TimeZone zone_;
};

// RFC 3339 with any number of fraction digits and a `Z` or ±hh:mm offset (the container
// runtimes' timestamps). Returns false when `text` is not one.
bool parse_rfc3339(std::string_view text, std::uint64_t& out);

}  // namespace vigil::collectors::filelog::ops
