#pragma once
// Finds files by glob, follows them across rotation and truncation, and cuts their bytes into
// lines (or multiline records). The filelog receiver's input side, without any pipeline code.
//
// File identity is the fingerprint (the first fingerprint_size bytes), not the inode, so a
// reused inode is a new file and a renamed file is the same file.
//
// Offsets move in two steps so that a checkpoint only passes data the pipeline accepted:
// read() feeds lines and advances each file's read offset; commit() makes the read offsets (held
// back by what operators still hold, FileSource::held_since) the committed ones; rewind() drops
// everything since the last commit and reads it again. A file that is gone (rotated away, deleted)
// is released only when everything read from it is committed.
//
// Zero-copy lines: Line::text points into a buffer the Tailer owns until take_buffers() hands it
// over. Every Line::text is followed, in the same allocation, by at least kLinePadding readable
// bytes, so a JSON parser (simdjson) can parse it in place.
//
// Thread-safety: none; one reader thread owns a Tailer.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::collectors::filelog {

// Readable bytes after every Line::text in its buffer (simdjson's SIMDJSON_PADDING).
inline constexpr std::size_t kLinePadding = 64;

// Options must pass Tailer::validate(); a Tailer built from invalid ones ignores what is invalid.
struct TailerOptions {
  std::vector<std::string> include;  // globs; "**" matches any number of directories
  std::vector<std::string> exclude;
  bool start_at_beginning = false;  // start_at: beginning | end (for files with no checkpoint)
  std::size_t fingerprint_size = 1024;
  std::size_t max_log_size = 1024 * 1024;   // longer lines are cut here, the rest is dropped
  std::size_t max_concurrent_files = 1024;  // files open at once
  std::size_t read_buffer_size = 256 * 1024;
  std::string line_start_pattern;  // multiline: a record starts at a line matching this (RE2)
  std::string line_end_pattern;    // multiline: a record ends at a line matching this (RE2)
  std::string encoding = "utf-8";  // utf-8 (invalid bytes replaced by U+FFFD) | nop (bytes as is)
  std::chrono::nanoseconds force_flush_period = std::chrono::milliseconds(500);  // 0: never
};

// One file being read. The receiver keeps its per-file pipeline state in `user`.
struct FileSource {
  std::string path;                    // as matched (a symlink keeps its own path)
  std::string name;                    // base name of path
  std::uint64_t read_offset = 0;       // bytes consumed into lines so far
  std::uint64_t committed_offset = 0;  // what the checkpoint says
  // Set by the receiver after each line: the smallest offset its operators still hold.
  std::optional<std::uint64_t> held_since;
  std::shared_ptr<void> user;  // receiver-owned per-file state
};

// One line (or multiline record) cut from a file.
struct Line {
  std::string_view text;       // without the newline (and without a trailing '\r')
  std::uint64_t offset = 0;    // offset of its first byte in the file
  bool truncated = false;      // cut at max_log_size
  std::uint32_t replaced = 0;  // invalid UTF-8 sequences replaced
};

class LineSink {
 public:
  virtual ~LineSink() = default;
  virtual void on_line(FileSource& file, const Line& line) = 0;
  // The file was rewound or is new: drop the per-file pipeline state (source.user).
  virtual void on_reset(FileSource& file) = 0;
  // The file will produce nothing more (rotated away and read to its end, deleted, truncated
  // before a restart at 0): flush what the operators hold for it.
  virtual void on_finished(FileSource& file) = 0;
};

// Counters the receiver exports as self-metrics.
struct TailerStats {
  std::uint64_t files_opened = 0;
  std::uint64_t files_closed = 0;
  std::uint64_t rotations = 0;    // rename-and-create seen
  std::uint64_t truncations = 0;  // copy-and-truncate or truncation in place
  std::uint64_t lines = 0;
  std::uint64_t bytes = 0;
  std::uint64_t truncated_lines = 0;  // longer than max_log_size
  std::uint64_t skipped_bytes = 0;    // dropped past max_log_size (lines and multiline records)
  std::uint64_t invalid_utf8 = 0;     // sequences replaced
  std::uint64_t open_errors = 0;      // could not open or read (permissions, vanished)
  std::uint64_t files_skipped = 0;    // past max_concurrent_files in one poll (per file, per poll)
};

// One file's position, as saved in a checkpoint.
struct FileCheckpoint {
  std::string path;
  std::string fingerprint;  // the first bytes of the file, up to fingerprint_size
  std::uint64_t offset = 0;
};

class Tailer {
 public:
  explicit Tailer(TailerOptions options);
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Checks options (globs, RE2 patterns); empty when fine.
  static std::string validate(const TailerOptions& options);

  // Matches the globs again: opens new files, notices rotation, truncation and deletion. Files
  // seen for the first time start at the end (start_at: end) unless they appeared after the
  // first poll or have a checkpoint. Call every poll_interval.
  void poll_files();

  // Reads from every open file, feeding lines to `sink`, until about `max_lines` lines or
  // `max_bytes` bytes were fed or every file is at its end. Returns the number of lines fed.
  // Emits a last line without newline once it has not grown for force_flush_period.
  // A file read to its end is looked at again after the next poll_files() (its stat shows
  // growth), except one with a pending last line or record, which every read() checks for
  // force_flush_period. A limit of 0 means no limit. Reading stops right after the line that reaches a limit;
  // the rest of that chunk is read again next time, so the limits are exact.
  std::size_t read(LineSink& sink, std::size_t max_lines, std::size_t max_bytes,
                   std::chrono::steady_clock::time_point now);

  // The pipeline accepted everything fed since the last commit: committed_offset becomes
  // min(read_offset, held_since, start of a pending multiline record). A file that is finished
  // (on_finished was called) and fully committed is closed and forgotten (its fingerprint and
  // offset stay known for a few polls, so a copy of it is not read twice).
  void commit(LineSink& sink);
  // The pipeline refused it: every file goes back to its committed offset, on_reset is called
  // for every file, held_since is cleared and buffers not taken yet are dropped.
  void rewind(LineSink& sink);

  // Committed positions of every known file (open, waiting for a slot, or recently released),
  // for the checkpoint. A file whose committed position is inside a line cut at max_log_size
  // says the start of that line: after a restart the cut line comes again rather than its tail.
  std::vector<FileCheckpoint> checkpoint() const;
  // Positions from a checkpoint, used when the files are next found (matched by fingerprint).
  // Call before the first poll_files(). Entries whose file is not found are forgotten after the
  // first poll that examined every matched file.
  void restore(std::vector<FileCheckpoint> files);

  const TailerStats& stats() const { return stats_; }
  std::size_t open_files() const;

  // Buffers of lines fed since the last call, for the batch's arena to adopt (zero-copy lines).
  // Line::text views stay valid until the buffer is dropped by whoever took it. Each buffer is
  // longer than kLinePadding, so its bytes live on the heap and moving the string (Arena::adopt)
  // keeps the views valid. Call it after every read(): rewind() drops buffers not taken.
  std::vector<std::string> take_buffers();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  TailerStats stats_;
};

// Checkpoint file format: versioned, with a checksum, so a corrupted or truncated file is
// detected. decode returns false (and says why in `error`) for anything it cannot trust.
std::string encode_checkpoint(const std::vector<FileCheckpoint>& files);
bool decode_checkpoint(std::string_view data, std::vector<FileCheckpoint>& files, std::string& error);

}  // namespace vigil::collectors::filelog
