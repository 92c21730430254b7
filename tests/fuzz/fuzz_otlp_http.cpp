// libFuzzer target: the otlp receiver's request body decompression (collectors::decompress_body).
//
// Input: byte 0 picks the Content-Encoding (byte % 4: gzip, zstd, deflate, identity) and one of
// two limits (byte & 4: 1 MiB, or 100 bytes so that small inputs reach the limit too); the rest
// is the body. decompress_body must never write past what it allocated (ASan), must keep its
// output within the limit (the bomb guard: kOk means at most `limit` bytes; growth stops at
// limit + 1 bytes, which libFuzzer's -rss_limit_mb / -malloc_limit_mb would catch otherwise),
// the limit must be exact, and every failure must come with a message and an empty output.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/otlp/otlp_receiver.hpp"

namespace {

using vigil::collectors::DecompressResult;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kEncodings[] = {"gzip", "zstd", "deflate", "identity"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view encoding = kEncodings[data[0] % 4];
  const std::size_t limit = (data[0] & 4) != 0 ? 100 : 1024 * 1024;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::string original = body;

  std::string out;
  std::string error;
  const DecompressResult r = vigil::collectors::decompress_body(encoding, std::move(body), limit, out, error);
  switch (r) {
    case DecompressResult::kOk:
      check(out.size() <= limit);
      if (encoding == "identity") check(out == original);
      break;
    case DecompressResult::kTooLarge:
      check(out.empty());  // the partly filled buffer is released at once
      break;
    case DecompressResult::kCorrupt:
      check(!error.empty() && out.empty());
      break;
    case DecompressResult::kUnsupported:
      check(false);  // every encoding used here is supported
      break;
  }
  if (r != DecompressResult::kOk) return 0;

  // The limit is exact: the same body fits a limit of exactly its decompressed size, with the
  // same output, and is too large for one byte less.
  std::string exact_out;
  check(vigil::collectors::decompress_body(encoding, std::string(original), out.size(), exact_out, error) ==
        DecompressResult::kOk);
  check(exact_out == out);
  if (!out.empty()) {
    std::string short_out;
    check(vigil::collectors::decompress_body(encoding, std::string(original), out.size() - 1, short_out,
                                             error) == DecompressResult::kTooLarge);
  }
  return 0;
}
