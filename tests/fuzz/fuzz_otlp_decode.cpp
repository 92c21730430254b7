// libFuzzer target: the OTLP protobuf decoder, and everything done to a batch once it decoded.
//
// Input: byte 0 picks the signal (byte % 3: traces, metrics, logs) and a split point for
// Batch::split_front (byte / 3); the rest is the request body. When the body decodes:
//   - Vigil's encoder re-encodes the batch (and encoded_size agrees), the re-encoded bytes decode
//     again to the same item count and encode again to the same bytes (the codec is a fixed point
//     after one round);
//   - the OTLP/JSON encoding is valid JSON and valid UTF-8, as json_encoder.hpp promises;
//   - deep_copy() outlives its source and encodes to the same bytes; share() and split_front()
//     keep the item counts, and the split halves stay readable after the source is gone.
// Any broken property aborts with __builtin_trap(), which libFuzzer reports as a crash.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/batch.hpp"
#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "agent/otlp/proto_encoder.hpp"

namespace {

using vigil::model::Batch;
using vigil::model::Signal;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string encode(const Batch& batch) {
  std::string out;
  vigil::otlp::encode_export_request(batch, out);
  check(out.size() == vigil::otlp::encoded_size(batch));
  return out;
}

// simdjson refuses integer literals beyond 64 bits ("Problem while parsing a number"). JSON
// allows them, and the encoder writes large integral doubles that way (std::to_chars' shortest
// form of -2.7670116110564327e19 is -27670116110564327424, as JavaScript would also write it), so
// integer literals of 19 digits or more outside strings become 0 before simdjson parses the rest.
std::string tame_big_integers(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  auto digit = [&](std::size_t k) { return k < json.size() && json[k] >= '0' && json[k] <= '9'; };
  bool in_string = false;
  std::size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (in_string) {
      const std::size_t n = (c == '\\' && i + 1 < json.size()) ? 2 : 1;
      if (c == '"') in_string = false;
      out.append(json.substr(i, n));
      i += n;
    } else if (c == '-' || digit(i)) {
      std::size_t j = i + (c == '-' ? 1 : 0);
      while (digit(j)) ++j;
      const bool integer = j >= json.size() || (json[j] != '.' && json[j] != 'e' && json[j] != 'E');
      const std::size_t digits = j - i - (c == '-' ? 1 : 0);
      out.append(integer && digits >= 19 ? std::string_view("0") : json.substr(i, j - i));
      i = j;
    } else {
      if (c == '"') in_string = true;
      out += c;
      ++i;
    }
  }
  return out;
}

void check_json(const Batch& batch) {
  std::string json;
  vigil::otlp::encode_json(batch, json);
  check(simdjson::validate_utf8(json.data(), json.size()));
  static simdjson::dom::parser parser;  // reused: it keeps its buffers between inputs
  simdjson::padded_string padded(tame_big_integers(json));
  simdjson::dom::element root;
  check(parser.parse(padded).get(root) == simdjson::SUCCESS);
  check(root.is_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  const std::size_t split_at = data[0] / 3;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  std::optional<Batch> batch(std::in_place, signal);
  std::string error;
  if (!vigil::otlp::decode_export_request(signal, body, *batch, error)) {
    check(!error.empty());
    return 0;
  }
  const std::size_t items = batch->item_count();

  // Protobuf round trip.
  const std::string encoded = encode(*batch);
  {
    Batch again(signal);
    check(vigil::otlp::decode_export_request(signal, encoded, again, error));
    check(again.item_count() == items);
    check(encode(again) == encoded);
  }

  check_json(*batch);

  // share(), split_front() on the share, deep_copy(); then the source goes away.
  Batch shared = batch->share();
  check(shared.item_count() == items);
  Batch front = shared.split_front(split_at);
  const std::size_t front_items = items < split_at ? items : split_at;
  check(front.item_count() == front_items);
  check(shared.item_count() == items - front_items);
  Batch copy = batch->deep_copy();
  check(copy.item_count() == items);
  check(batch->item_count() == items);  // split_front on a share must not touch the source
  batch.reset();

  check(encode(copy) == encoded);
  check_json(copy);
  // The two halves re-encode and decode to their own counts, reading the kept arenas.
  for (const Batch* half : {&front, &shared}) {
    Batch again(signal);
    check(vigil::otlp::decode_export_request(signal, encode(*half), again, error));
    check(again.item_count() == half->item_count());
  }
  return 0;
}
