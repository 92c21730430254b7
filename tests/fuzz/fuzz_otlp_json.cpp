// libFuzzer target: the OTLP/JSON decoder (the otlp receiver's application/json bodies).
//
// Input: byte 0 picks the signal (byte % 3: traces, metrics, logs); the rest is the request body.
// Checked:
//   - a failure has a message, in valid UTF-8 (it goes into HTTP responses and protobuf strings)
//     and of bounded length;
//   - decoding is deterministic: the same body decodes again (reusing the thread's parser and
//     buffers) to the same batch;
//   - a decoded batch survives both codecs: Vigil's JSON encoding of it decodes to the same batch
//     (compared through their protobuf encodings), and its protobuf encoding decodes with the
//     protobuf decoder to the same bytes, so the JSON decoder never accepts what the protobuf
//     path would refuse (nesting, ids, UTF-8).
// Any broken property aborts with __builtin_trap(), which libFuzzer reports as a crash.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/model/batch.hpp"
#include "agent/otlp/json_decoder.hpp"
#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "agent/otlp/proto_encoder.hpp"

namespace {

using vigil::model::Batch;
using vigil::model::Signal;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string proto(const Batch& batch) {
  std::string out;
  vigil::otlp::encode_export_request(batch, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  Batch batch(signal);
  std::string error;
  const bool ok = vigil::otlp::decode_json_export_request(signal, body, batch, error);
  {
    Batch again(signal);
    std::string error_again;
    check(vigil::otlp::decode_json_export_request(signal, body, again, error_again) == ok);
    check(error_again == error);
    if (ok) check(proto(again) == proto(batch));
  }
  if (!ok) {
    check(!error.empty());
    check(error.size() < 1024);
    check(simdjson::validate_utf8(error.data(), error.size()));
    return 0;
  }
  check(error.empty());
  const std::string bytes = proto(batch);

  // JSON round trip.
  std::string json;
  vigil::otlp::encode_json(batch, json);
  Batch from_json(signal);
  check(vigil::otlp::decode_json_export_request(signal, json, from_json, error));
  check(from_json.item_count() == batch.item_count());
  check(proto(from_json) == bytes);

  // The protobuf path accepts the same request and agrees.
  Batch from_proto(signal);
  check(vigil::otlp::decode_export_request(signal, bytes, from_proto, error));
  check(proto(from_proto) == bytes);
  return 0;
}
