#pragma once
// UTF-8 validity, one rule for the whole agent (the OTLP/JSON encoder, the filelog reader): a
// sequence is valid when it is the shortest form of a scalar value (no overlongs, no surrogates,
// nothing above U+10FFFF). Where bytes are invalid, each byte that starts no valid sequence is
// replaced by U+FFFD.

#include <cstddef>

namespace vigil::model {

// Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0 when invalid (bad
// lead, truncated, overlong, surrogate, above U+10FFFF).
inline std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace vigil::model
