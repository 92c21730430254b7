// The filelog checkpoint format: the fingerprint and committed offset of every known file.
//
// Layout (integers little-endian):
//   "VGFLCKPT"            8 bytes, magic
//   version               u32 (1)
//   crc32                 u32, zlib's CRC-32 of the payload
//   payload length        u64
//   payload               u32 count, then per file: u32 path length, path, u32 fingerprint
//                         length, fingerprint, u64 offset
// The checksum and the length catch a torn or corrupted write, so a damaged checkpoint is
// reported and the files are read again from start_at instead of from garbage offsets.
//
// Thread-safety: pure functions.

#include <zlib.h>

#include <cstring>

#include "collectors/filelog/tailer.hpp"

namespace vigil::collectors::filelog {

namespace {

constexpr char kMagic[8] = {'V', 'G', 'F', 'L', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 8 + 4 + 4 + 8;
constexpr std::size_t kMinEntrySize = 4 + 4 + 8;

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t checksum(std::string_view data) {
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  return static_cast<std::uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), p, data.size()));
}

// Reads the payload; each read is bounds-checked so a payload that passes the checksum but is
// malformed (a bug in a writer) still cannot read out of range.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u32(std::uint32_t& v) {
    if (data_.size() - pos_ < 4) return false;
    v = static_cast<std::uint32_t>(get_le(data_.data() + pos_, 4));
    pos_ += 4;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (data_.size() - pos_ < 8) return false;
    v = get_le(data_.data() + pos_, 8);
    pos_ += 8;
    return true;
  }
  bool bytes(std::string& out) {
    std::uint32_t n = 0;
    if (!u32(n) || data_.size() - pos_ < n) return false;
    out.assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t left() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_checkpoint(const std::vector<FileCheckpoint>& files) {
  std::string payload;
  put_u32(payload, static_cast<std::uint32_t>(files.size()));
  for (const auto& f : files) {
    put_u32(payload, static_cast<std::uint32_t>(f.path.size()));
    payload.append(f.path);
    put_u32(payload, static_cast<std::uint32_t>(f.fingerprint.size()));
    payload.append(f.fingerprint);
    put_u64(payload, f.offset);
  }
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  out.append(kMagic, sizeof kMagic);
  put_u32(out, kVersion);
  put_u32(out, checksum(payload));
  put_u64(out, payload.size());
  out.append(payload);
  return out;
}

bool decode_checkpoint(std::string_view data, std::vector<FileCheckpoint>& files, std::string& error) {
  files.clear();
  if (data.size() < kHeaderSize) {
    error = "filelog checkpoint truncated: " + std::to_string(data.size()) +
            " bytes, the header alone takes " + std::to_string(kHeaderSize);
    return false;
  }
  if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    error = "not a filelog checkpoint (bad magic)";
    return false;
  }
  const auto version = static_cast<std::uint32_t>(get_le(data.data() + 8, 4));
  if (version != kVersion) {
    error = "filelog checkpoint version " + std::to_string(version) + " is not supported (expected " +
            std::to_string(kVersion) + ")";
    return false;
  }
  const auto crc = static_cast<std::uint32_t>(get_le(data.data() + 12, 4));
  const std::uint64_t length = get_le(data.data() + 16, 8);
  const std::string_view payload = data.substr(kHeaderSize);
  if (payload.size() < length) {
    error = "filelog checkpoint truncated: the header announces " + std::to_string(length) +
            " bytes of entries, only " + std::to_string(payload.size()) + " follow";
    return false;
  }
  if (payload.size() > length) {
    error = "filelog checkpoint corrupted: " + std::to_string(payload.size() - length) +
            " unexpected bytes after the entries";
    return false;
  }
  if (checksum(payload) != crc) {
    error = "filelog checkpoint corrupted: checksum mismatch";
    return false;
  }
  Reader r(payload);
  std::uint32_t count = 0;
  if (!r.u32(count) || count > r.left() / kMinEntrySize) {
    error = "filelog checkpoint malformed: bad entry count";
    return false;
  }
  std::vector<FileCheckpoint> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    FileCheckpoint f;
    if (!r.bytes(f.path) || !r.bytes(f.fingerprint) || !r.u64(f.offset)) {
      error = "filelog checkpoint malformed: entry " + std::to_string(i) + " is cut short";
      return false;
    }
    out.push_back(std::move(f));
  }
  if (r.left() != 0) {
    error = "filelog checkpoint malformed: " + std::to_string(r.left()) + " bytes after the last entry";
    return false;
  }
  files = std::move(out);
  return true;
}

}  // namespace vigil::collectors::filelog
