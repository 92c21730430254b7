// The filelog checkpoint format: round trip, and every kind of damage detected with a message.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "collectors/filelog/tailer.hpp"

namespace vigil::testing {

namespace fl = vigil::collectors::filelog;

namespace {

std::vector<fl::FileCheckpoint> sample() {
  return {
      {"/var/log/pods/ns_pod_uid/app/0.log", std::string("{\"time\":\"2024\0\xff binary", 22),
       123456789012345ULL},
      {"/var/log/app.log", "first line\n", 0},
      {"", "x", 7},
  };
}

bool same(const std::vector<fl::FileCheckpoint>& a, const std::vector<fl::FileCheckpoint>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].fingerprint != b[i].fingerprint || a[i].offset != b[i].offset)
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("checkpoint: round trip") {
  std::vector<fl::FileCheckpoint> out;
  std::string error;
  REQUIRE(fl::decode_checkpoint(fl::encode_checkpoint(sample()), out, error));
  CHECK(same(out, sample()));
  CHECK(error.empty());

  REQUIRE(fl::decode_checkpoint(fl::encode_checkpoint({}), out, error));
  CHECK(out.empty());
}

TEST_CASE("checkpoint: a truncated checkpoint is refused with a message") {
  const std::string full = fl::encode_checkpoint(sample());
  for (std::size_t len = 0; len < full.size(); ++len) {
    std::vector<fl::FileCheckpoint> out{{"stale", "fp", 1}};
    std::string error;
    CHECK_FALSE(fl::decode_checkpoint(std::string_view(full).substr(0, len), out, error));
    CHECK(out.empty());
    CHECK_MESSAGE(error.find("truncated") != std::string::npos, "length " << len << ": " << error);
  }
}

TEST_CASE("checkpoint: a corrupted checkpoint is refused with a message") {
  const std::string full = fl::encode_checkpoint(sample());
  // Every single-bit flip anywhere is detected (magic, version, checksum, length or entries).
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bad = full;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      std::vector<fl::FileCheckpoint> out;
      std::string error;
      CHECK_FALSE(fl::decode_checkpoint(bad, out, error));
      CHECK(!error.empty());
    }
  }
  SUBCASE("messages say what is wrong") {
    std::vector<fl::FileCheckpoint> out;
    std::string error;
    std::string bad = full;
    bad[0] = 'X';
    CHECK_FALSE(fl::decode_checkpoint(bad, out, error));
    CHECK(error.find("magic") != std::string::npos);

    bad = full;
    bad[8] = 2;  // version
    CHECK_FALSE(fl::decode_checkpoint(bad, out, error));
    CHECK(error.find("version 2") != std::string::npos);

    bad = full;
    bad[full.size() - 1] ^= 0x40;  // in the entries
    CHECK_FALSE(fl::decode_checkpoint(bad, out, error));
    CHECK(error.find("checksum") != std::string::npos);

    CHECK_FALSE(fl::decode_checkpoint(full + "extra", out, error));
    CHECK(error.find("unexpected bytes") != std::string::npos);

    CHECK_FALSE(fl::decode_checkpoint("{\"offsets\": []}", out, error));
    CHECK(!error.empty());
  }
}

}  // namespace vigil::testing
