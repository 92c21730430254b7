// Tailer: matches the globs, follows each file by its fingerprint across rotation and truncation,
// and cuts what it reads into lines and multiline records (the Collector's fileconsumer).
//
// How it reads: every file is read with pread(2) at its read offset, straight into one shared
// buffer; lines are found with memchr and handed to the sink as views into that buffer. A line
// without its newline yet is not consumed: the next read starts at its first byte again, into
// the same place when it is the last thing in the buffer, so no per-file carry buffer exists and
// a partial line is never copied. A line that does not fit gets a larger buffer (bounded by
// max_log_size). Copies happen only for lines that need a different text than the file's bytes:
// invalid UTF-8 replaced, multiline records joined; those go to a scratch buffer that is handed
// over the same way.
//
// Identity: an open descriptor pins its inode, so while a file is open its (dev, ino) names it
// and the fingerprint only detects truncation. A path whose inode is not open is opened and its
// first bytes compared with the fingerprints of the open files (a copy, as copy-and-truncate
// makes, is not read twice), then with recently released files and checkpoint entries (resume
// at their offset), else it is a new file.
//
// Ownership: the Tailer owns its descriptors and buffers until take_buffers(). Thread-safety:
// none; one reader thread owns a Tailer.

#include "collectors/filelog/tailer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <re2/re2.h>
#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "agent/model/utf8.hpp"

namespace vigil::collectors::filelog {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMinBuffer = 16 * 1024;  // smallest read buffer after a quiet read()
constexpr std::size_t kMinRead = 4096;         // a read buffer with less room left is retired
constexpr std::size_t kMinScratch = 16 * 1024;
constexpr std::size_t kMinFingerprint = 16;
constexpr std::size_t kKeepRecordCapacity = 64 * 1024;  // larger multiline buffers are freed
constexpr int kMaxGlobDepth = 64;                       // "**" descends at most this deep
// Polls a released or truncated file's fingerprint stays known: long enough for its copy (copy
// and truncate) or a re-created file with the same content to be recognised.
constexpr std::uint64_t kArchivePolls = 3;
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// ---------------------------------------------------------------------------------------------
// Globs

bool has_meta(std::string_view s) {
  return s.find_first_of("*?[\\") != std::string_view::npos;
}

struct Glob {
  bool absolute = false;
  std::vector<std::string> segs;  // path segments; "**" is a segment of its own
};

Glob parse_glob(std::string_view pattern) {
  Glob g;
  g.absolute = !pattern.empty() && pattern.front() == '/';
  std::size_t i = 0;
  while (i <= pattern.size()) {
    std::size_t j = pattern.find('/', i);
    if (j == std::string_view::npos) j = pattern.size();
    std::string_view seg = pattern.substr(i, j - i);
    const bool repeat = seg == "**" && !g.segs.empty() && g.segs.back() == "**";
    if (!seg.empty() && seg != "." && !repeat) g.segs.emplace_back(seg);
    i = j + 1;
  }
  // "dir/**" means every file below dir, at any depth.
  if (!g.segs.empty() && g.segs.back() == "**") g.segs.emplace_back("*");
  return g;
}

// Why a glob is not usable, or empty. fnmatch(3) takes an unclosed '[' literally; the Collector
// (doublestar) rejects it, and so does Vigil, since it is almost always a typo.
std::string check_glob(std::string_view pattern) {
  if (pattern.empty()) return "empty glob";
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] != '[') continue;
    std::size_t j = i + 1;
    if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
    if (j < pattern.size() && pattern[j] == ']') ++j;
    while (j < pattern.size() && pattern[j] != ']' && pattern[j] != '/') ++j;
    if (j >= pattern.size() || pattern[j] != ']') return "unclosed '[' in \"" + std::string(pattern) + "\"";
    i = j;
  }
  return {};
}

struct DirEntry {
  std::string name;
  unsigned char type;
};

// Entries of a directory (without "." and ".."); read fully before recursing so a deep "**"
// walk holds one directory descriptor at a time.
std::vector<DirEntry> list_dir(const std::string& prefix) {
  std::vector<DirEntry> out;
  DIR* d = ::opendir(prefix.empty() ? "." : prefix.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    out.push_back({e->d_name, e->d_type});
  }
  ::closedir(d);
  return out;
}

// "**" does not descend through symlinked directories (a link to an ancestor would loop);
// a named or wildcard segment does.
bool is_dir(const std::string& path, unsigned char type, bool follow) {
  if (type == DT_DIR) return true;
  if (type != DT_UNKNOWN && !(type == DT_LNK && follow)) return false;
  struct stat st {};
  const int rc = follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  return rc == 0 && S_ISDIR(st.st_mode);
}

struct Found {
  std::string path;
  bool listed;  // seen in a directory listing (a named path may simply not exist yet)
};

void walk(const Glob& g, std::size_t i, std::string& prefix, int depth, std::vector<Found>& out) {
  const std::string& seg = g.segs[i];
  const bool last = i + 1 == g.segs.size();
  const std::size_t keep = prefix.size();
  if (seg == "**") {
    walk(g, i + 1, prefix, depth, out);  // zero directories
    if (depth >= kMaxGlobDepth) return;
    for (const auto& e : list_dir(prefix)) {
      prefix.append(e.name);
      if (is_dir(prefix, e.type, false)) {
        prefix.push_back('/');
        walk(g, i, prefix, depth + 1, out);
      }
      prefix.resize(keep);
    }
    return;
  }
  if (!has_meta(seg)) {
    prefix.append(seg);
    if (last) {
      out.push_back({prefix, false});
    } else {
      prefix.push_back('/');
      walk(g, i + 1, prefix, depth, out);
    }
    prefix.resize(keep);
    return;
  }
  for (const auto& e : list_dir(prefix)) {
    if (::fnmatch(seg.c_str(), e.name.c_str(), 0) != 0) continue;
    prefix.append(e.name);
    if (last) {
      out.push_back({prefix, true});
    } else if (is_dir(prefix, e.type, true)) {
      prefix.push_back('/');
      walk(g, i + 1, prefix, depth, out);
    }
    prefix.resize(keep);
  }
}

bool match_segments(const std::vector<std::string>& pat, std::size_t pi, const std::vector<std::string>& path,
                    std::size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    for (std::size_t k = si; k <= path.size(); ++k) {
      if (match_segments(pat, pi + 1, path, k)) return true;
    }
    return false;
  }
  if (si == path.size()) return false;
  if (::fnmatch(pat[pi].c_str(), path[si].c_str(), 0) != 0) return false;
  return match_segments(pat, pi + 1, path, si + 1);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Identity

// The Collector's rule: two fingerprints name the same file when one is a prefix of the other
// (a file shorter than fingerprint_size has a shorter fingerprint that grows). An empty
// fingerprint names nothing.
bool same_fingerprint(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return false;
  const std::size_t n = std::min(a.size(), b.size());
  return std::memcmp(a.data(), b.data(), n) == 0;
}

struct Sig {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime {};
  struct timespec ctime {};
  bool operator==(const Sig& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec &&
           ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

Sig sig_of(const struct stat& st) {
  return Sig{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

struct DevIno {
  dev_t dev;
  ino_t ino;
  bool operator==(const DevIno& o) const { return dev == o.dev && ino == o.ino; }
};

struct DevInoHash {
  std::size_t operator()(const DevIno& d) const {
    return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(d.ino) * 0x9E3779B97F4A7C15ULL ^
                                      static_cast<std::uint64_t>(d.dev));
  }
};

// ---------------------------------------------------------------------------------------------
// UTF-8

using model::utf8_sequence;

// Copies `in` to `out` (room for 3 * n bytes) with every byte that does not start a valid
// sequence replaced by U+FFFD; returns the bytes written.
std::size_t replace_invalid(const char* in, std::size_t n, char* out, std::uint32_t& replaced) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  const auto* end = p + n;
  char* o = out;
  while (p < end) {
    if (*p < 0x80) {
      *o++ = static_cast<char>(*p++);
      continue;
    }
    const std::size_t len = utf8_sequence(p, end);
    if (len != 0) {
      std::memcpy(o, p, len);
      o += len;
      p += len;
    } else {
      std::memcpy(o, kReplacement, 3);
      o += 3;
      ++p;
      ++replaced;
    }
  }
  return static_cast<std::size_t>(o - out);
}

// Where to cut a line at `max` bytes without splitting a UTF-8 character (s has more than max
// bytes).
std::size_t utf8_cut(const char* s, std::size_t max) {
  std::size_t c = max;
  while (c > 0 && max - c < 3 && (static_cast<unsigned char>(s[c]) & 0xC0) == 0x80) --c;
  return c == 0 ? max : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_utf8_name(std::string_view e) {
  const std::string l = lower(e);
  return l == "utf-8" || l == "utf8";
}

std::string base_name(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// State

namespace {

struct File {
  FileSource src;
  std::string fp;  // first bytes, up to fingerprint_size; grows with the file
  int fd = -1;     // -1: closed to make room (max_concurrent_files), state kept
  dev_t dev = 0;
  ino_t ino = 0;
  Sig park_sig;                // stat when it was closed to make room
  std::uint64_t seen_end = 0;  // highest file offset seen, to notice growth (force flush)
  Clock::time_point last_growth{};
  std::uint64_t slot_poll = 0;  // poll at which it last got a descriptor
  std::uint64_t eof_call = 0;   // read() call in which it reached its end
  std::uint64_t idle_poll = 0;  // poll since which it is at its end with nothing pending
  Sig last_sig;                 // stat at the last poll: unchanged means no truncation check
  std::size_t need = 0;         // room its next read needs (a line that did not fit)
  bool reset_due = true;        // on_reset before its first line
  bool truncate_due = false;    // poll saw a truncation; read() restarts it at 0
  bool present = false;         // found at a matched path in the current poll
  bool gone = false;            // rotated away, deleted or unreadable: read to end, then finished
  bool failed = false;          // a read error: nothing more is read from it
  bool finished = false;        // on_finished was called
  // A line longer than max_log_size: its head was fed, the rest is dropped up to the newline.
  bool skipping = false;
  std::uint64_t skip_start = 0;
  bool committed_skipping = false;
  std::uint64_t committed_skip_start = 0;
  // The multiline record being assembled (its lines are consumed; the record holds the commit).
  bool ml_active = false;
  bool ml_skip = false;  // the record was cut at max_log_size: its other lines are dropped
  bool ml_truncated = false;
  std::uint64_t ml_offset = 0;
  std::string ml_text;
};

// A file no longer open: released after its end, the old content of a truncated file, or an
// entry of a restored checkpoint.
struct Known {
  std::string path;
  std::string fp;
  std::uint64_t offset = 0;
  std::uint64_t expires = 0;  // poll after which it is forgotten (restored: see poll())
  bool restored = false;
};

struct Candidate {
  std::size_t match;     // index into the poll's matches
  File* parked;          // a file closed to make room, whose path shows change; else nullptr
  std::uint64_t waited;  // poll since which it waits for a descriptor (fairness)
};

struct Match {
  std::string path;
  struct stat st;
};

}  // namespace

struct Tailer::Impl {
  Impl(TailerOptions o, TailerStats& s) : opt(std::move(o)), stats(s) {
    utf8 = is_utf8_name(opt.encoding);
    if (opt.fingerprint_size < kMinFingerprint) opt.fingerprint_size = kMinFingerprint;
    if (opt.max_log_size == 0) opt.max_log_size = 1;
    if (opt.max_concurrent_files == 0) opt.max_concurrent_files = 1;
    if (opt.read_buffer_size == 0) opt.read_buffer_size = 1;
    RE2::Options ro;
    ro.set_log_errors(false);
    if (!opt.line_start_pattern.empty()) {
      start_re = std::make_unique<RE2>(opt.line_start_pattern, ro);
      if (!start_re->ok()) start_re.reset();
    } else if (!opt.line_end_pattern.empty()) {
      end_re = std::make_unique<RE2>(opt.line_end_pattern, ro);
      if (!end_re->ok()) end_re.reset();
    }
    for (const auto& p : opt.include) {
      if (check_glob(p).empty()) include.push_back(parse_glob(p));
    }
    for (const auto& p : opt.exclude) {
      if (check_glob(p).empty()) exclude.push_back(parse_glob(p));
    }
    next_buf_size = opt.read_buffer_size;
    probe.resize(opt.fingerprint_size);
  }

  ~Impl() {
    for (auto& f : files) {
      if (f->fd >= 0) ::close(f->fd);
    }
  }

  TailerOptions opt;
  TailerStats& stats;
  bool utf8 = true;
  std::unique_ptr<RE2> start_re, end_re;
  std::vector<Glob> include, exclude;

  std::vector<std::unique_ptr<File>> files;
  std::vector<Known> archive;
  // Paths looked at and not followed (a copy of a followed file, not openable), by their stat:
  // looked at again when it changes.
  std::unordered_map<std::string, Sig> ignored;
  std::unordered_map<std::string, std::uint64_t> waiting;  // path -> poll it started waiting
  // Files found at the first poll that had to wait for a descriptor: they start at their size
  // then (start_at: end), not at 0.
  std::unordered_map<DevIno, std::uint64_t, DevInoHash> first_poll_sizes;
  std::uint64_t polls = 0;
  std::uint64_t read_calls = 0;
  std::size_t next_file = 0;
  std::string probe;  // fingerprint-sized scratch for poll()

  // Buffers: `buf` receives reads, `scratch` holds rewritten texts; both are handed over.
  std::string buf;
  std::size_t buf_used = 0;
  std::size_t next_buf_size = 0;
  std::string scratch;
  std::size_t scratch_used = 0;
  std::vector<std::string> filled;

  // The read() call in progress.
  LineSink* sink = nullptr;
  Clock::time_point now{};
  std::size_t lines_left = 0;
  std::size_t bytes_left = 0;
  std::size_t fed = 0;
  bool budget_hit = false;

  bool multiline() const { return start_re != nullptr || end_re != nullptr; }

  // ---- poll ----------------------------------------------------------------------------------

  bool excluded(const std::string& path) const {
    if (exclude.empty()) return false;
    const std::vector<std::string> segs = split_path(path);
    for (const auto& g : exclude) {
      if (match_segments(g.segs, 0, segs, 0)) return true;
    }
    return false;
  }

  std::vector<Match> match_paths() {
    std::vector<Found> found;
    for (const auto& g : include) {
      if (g.segs.empty()) continue;
      std::string prefix = g.absolute ? "/" : "";
      walk(g, 0, prefix, 0, found);
    }
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.path < b.path; });
    std::vector<Match> out;
    out.reserve(found.size());
    for (std::size_t i = 0; i < found.size(); ++i) {
      if (i > 0 && found[i].path == found[i - 1].path) continue;
      if (excluded(found[i].path)) continue;
      Match m{found[i].path, {}};
      if (::stat(m.path.c_str(), &m.st) != 0) {
        // A listed file that vanished before stat, or a dangling symlink, is counted; a named
        // path that does not exist (yet) is not an error.
        if (found[i].listed || errno != ENOENT) ++stats.open_errors;
        continue;
      }
      if (!S_ISREG(m.st.st_mode)) continue;
      out.push_back(std::move(m));
    }
    return out;
  }

  // Reads the first fingerprint_size bytes of fd into `probe`; returns how many, or -1.
  ssize_t read_probe(int fd, std::uint64_t size) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, opt.fingerprint_size));
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd, probe.data() + got, want - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -1;
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(got);
  }

  void close_fd(File& f) {
    if (f.fd < 0) return;
    ::close(f.fd);
    f.fd = -1;
    ++stats.files_closed;
  }

  void remember(const std::string& path, const std::string& fp, std::uint64_t offset) {
    if (fp.empty()) return;
    archive.push_back(Known{path, fp, offset, polls + kArchivePolls, false});
  }

  // An open file found at a path: notices truncation (the file is shorter than what was read, or
  // its first bytes changed) and lets its fingerprint grow.
  void check_open_file(File& f, const struct stat& st) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const ssize_t n = read_probe(f.fd, size);
    if (n < 0) {
      ++stats.open_errors;
      return;
    }
    const auto got = static_cast<std::size_t>(n);
    const bool changed = got < f.fp.size() || std::memcmp(probe.data(), f.fp.data(), f.fp.size()) != 0;
    if (size < f.src.read_offset || changed) {
      ++stats.truncations;
      // The old content stays known at its offset: its copy (copy-and-truncate) resumes there.
      remember(f.src.path, f.fp, f.src.read_offset);
      f.fp.assign(probe.data(), got);
      f.truncate_due = true;
      ignored.clear();  // a copy set aside as a duplicate may now resume from the archive
      return;
    }
    if (got > f.fp.size()) f.fp.assign(probe.data(), got);
  }

  bool clean(const File& f) const {
    return f.fd >= 0 && f.present && !f.gone && !f.finished && !f.truncate_due && !f.reset_due &&
           !f.ml_active && !f.skipping && !f.src.held_since && f.src.committed_offset == f.src.read_offset &&
           f.slot_poll != polls;
  }

  File* find_duplicate(std::string_view fp, const File* except) {
    for (auto& f : files) {
      if (f.get() != except && !f->truncate_due && same_fingerprint(f->fp, fp)) return f.get();
    }
    return nullptr;
  }

  void poll() {
    ++polls;
    const bool first = polls == 1;
    std::vector<Match> matches = match_paths();

    // Which matched paths are files already followed (by inode: an open descriptor pins it).
    std::unordered_map<DevIno, std::size_t, DevInoHash> by_id;
    for (std::size_t k = 0; k < files.size(); ++k) {
      File& f = *files[k];
      f.present = false;
      if (f.fd >= 0 || !f.gone) by_id[{f.dev, f.ino}] = k;
    }
    std::vector<const struct stat*> stat_of(files.size(), nullptr);
    std::vector<std::size_t> unknown;
    std::vector<Candidate> candidates;
    for (std::size_t i = 0; i < matches.size(); ++i) {
      const Match& m = matches[i];
      auto it = by_id.find({m.st.st_dev, m.st.st_ino});
      if (it == by_id.end()) {
        unknown.push_back(i);
        continue;
      }
      File& f = *files[it->second];
      if (f.gone) continue;  // ours until released, not a new file
      f.present = true;
      stat_of[it->second] = &m.st;
      // A file closed to make room gets a descriptor again when its path shows change or it was
      // not read to its end.
      if (f.fd < 0 &&
          (!(sig_of(m.st) == f.park_sig) || f.src.read_offset < static_cast<std::uint64_t>(m.st.st_size))) {
        candidates.push_back({i, &f, f.slot_poll});
      }
    }

    // Open files: truncated, or rotated away / deleted.
    for (std::size_t k = 0; k < files.size(); ++k) {
      File& f = *files[k];
      if (f.present) {
        if (f.fd < 0 || f.finished || f.truncate_due) continue;
        const Sig s = sig_of(*stat_of[k]);
        if (!(s == f.last_sig)) check_open_file(f, *stat_of[k]);
        f.last_sig = s;
        // Read to its end and unchanged: read() need not look at it until the next poll.
        if (!f.truncate_due && !f.ml_active && !f.skipping &&
            f.src.read_offset == static_cast<std::uint64_t>(stat_of[k]->st_size)) {
          f.idle_poll = polls;
        }
        continue;
      }
      if (f.gone) continue;
      f.gone = true;
      auto at = std::lower_bound(matches.begin(), matches.end(), f.src.path,
                                 [](const Match& a, const std::string& b) { return a.path < b; });
      if (f.fd >= 0 && at != matches.end() && at->path == f.src.path) ++stats.rotations;  // rename-and-create
    }

    // New paths (or paths whose inode is not one we follow).
    std::unordered_map<std::string, Sig> still_ignored;
    for (std::size_t i : unknown) {
      const Match& m = matches[i];
      const Sig s = sig_of(m.st);
      auto ig = ignored.find(m.path);
      if (ig != ignored.end() && ig->second == s) {
        still_ignored.emplace(m.path, s);
        continue;
      }
      if (m.st.st_size == 0) continue;  // nothing to identify it by yet
      auto w = waiting.find(m.path);
      candidates.push_back({i, nullptr, w == waiting.end() ? polls : w->second});
    }
    ignored = std::move(still_ignored);

    // Descriptors for the candidates, longest waiting first; files with everything committed give
    // theirs up (longest holders first) when there are not enough.
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.waited < b.waited; });
    std::size_t open = 0;
    for (const auto& f : files) open += f->fd >= 0 ? 1 : 0;
    const std::size_t limit = opt.max_concurrent_files;
    if (open + candidates.size() > limit) {
      std::vector<std::size_t> cleanable;
      for (std::size_t k = 0; k < files.size(); ++k) {
        if (clean(*files[k]) && stat_of[k] != nullptr) cleanable.push_back(k);
      }
      std::stable_sort(cleanable.begin(), cleanable.end(), [&](std::size_t a, std::size_t b) {
        return files[a]->slot_poll < files[b]->slot_poll;
      });
      for (std::size_t k : cleanable) {
        if (open + candidates.size() <= limit) break;
        File& f = *files[k];
        f.park_sig = sig_of(*stat_of[k]);
        close_fd(f);
        --open;
      }
    }
    std::unordered_map<std::string, std::uint64_t> still_waiting;
    bool deferred = false;
    for (const Candidate& c : candidates) {
      const Match& m = matches[c.match];
      if (open >= limit) {
        deferred = true;
        ++stats.files_skipped;
        if (c.parked == nullptr) {
          still_waiting.emplace(m.path, c.waited);
          if (first) first_poll_sizes[{m.st.st_dev, m.st.st_ino}] = static_cast<std::uint64_t>(m.st.st_size);
        }
        continue;
      }
      switch (open_candidate(m, c.parked, first)) {
        case Opened::kYes:
          ++open;
          break;
        case Opened::kNo:
          break;
        case Opened::kNoDescriptors:
          // The process is out of descriptors (RLIMIT_NOFILE below max_concurrent_files): the
          // others wait for a later poll, as if the limit were reached.
          open = limit;
          break;
      }
    }
    waiting = std::move(still_waiting);

    // Forget old knowledge. Checkpoint entries stay until a poll looked at every matched file.
    std::erase_if(archive, [&](const Known& k) { return k.restored ? !deferred : k.expires < polls; });
    if (!deferred) first_poll_sizes.clear();
  }

  enum class Opened { kYes, kNo, kNoDescriptors };

  // Opens a candidate path; kYes when it holds a descriptor afterwards.
  Opened open_candidate(const Match& m, File* parked, bool first) {
    const int fd = ::open(m.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ++stats.open_errors;
      if (errno == EMFILE || errno == ENFILE) return Opened::kNoDescriptors;
      ignored[m.path] = sig_of(m.st);  // e.g. permission denied: again when its stat changes
      return Opened::kNo;
    }
    ++stats.files_opened;
    struct stat st {};
    ssize_t n = -1;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
      n = read_probe(fd, static_cast<std::uint64_t>(st.st_size));
    auto drop = [&](bool ignore) {
      ::close(fd);
      ++stats.files_closed;
      if (ignore) ignored[m.path] = sig_of(m.st);
      return Opened::kNo;
    };
    if (n < 0) {
      ++stats.open_errors;
      return drop(true);
    }
    const std::string_view fp(probe.data(), static_cast<std::size_t>(n));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (parked != nullptr) {
      if (parked->dev == st.st_dev && parked->ino == st.st_ino && same_fingerprint(parked->fp, fp)) {
        parked->fd = fd;
        parked->slot_poll = polls;
        if (fp.size() > parked->fp.size()) parked->fp.assign(fp);
        if (size < parked->src.read_offset) {
          ++stats.truncations;
          remember(parked->src.path, parked->fp, parked->src.read_offset);
          parked->fp.assign(fp);
          parked->truncate_due = true;
          ignored.clear();
        }
        return Opened::kYes;
      }
      // Its inode now holds another file: the parked one is gone.
      parked->present = false;
      parked->gone = true;
    }
    if (fp.empty()) return drop(false);
    if (find_duplicate(fp, parked) != nullptr) return drop(true);

    auto f = std::make_unique<File>();
    std::uint64_t offset = 0;
    auto known = std::find_if(archive.begin(), archive.end(),
                              [&](const Known& k) { return same_fingerprint(k.fp, fp); });
    if (known != archive.end()) {
      offset = known->offset <= size ? known->offset : 0;
      archive.erase(known);
    } else if (auto fs = first_poll_sizes.find({st.st_dev, st.st_ino}); fs != first_poll_sizes.end()) {
      offset = opt.start_at_beginning || fs->second > size ? 0 : fs->second;
      first_poll_sizes.erase(fs);
    } else if (first && !opt.start_at_beginning) {
      offset = size;
    }
    f->src.path = m.path;
    f->src.name = base_name(m.path);
    f->src.read_offset = offset;
    f->src.committed_offset = offset;
    f->fp.assign(fp);
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->seen_end = offset;
    f->slot_poll = polls;
    f->present = true;
    ignored.erase(m.path);
    files.push_back(std::move(f));
    return Opened::kYes;
  }

  // ---- buffers -------------------------------------------------------------------------------

  std::size_t buf_room() const { return buf.empty() ? 0 : buf.size() - kLinePadding - buf_used; }

  // Makes sure the read buffer has room for `need` bytes (and a useful read).
  void reserve(std::size_t need) {
    const std::size_t want = std::max(need, std::min(opt.read_buffer_size, kMinRead));
    if (buf_room() >= want) return;
    if (buf_used > 0) {
      filled.push_back(std::move(buf));
      next_buf_size = std::min(opt.read_buffer_size, next_buf_size * 2);
    }
    buf.clear();
    buf.resize(std::max(next_buf_size, want) + kLinePadding);
    buf_used = 0;
  }

  // Room for n bytes of rewritten text, followed by kLinePadding bytes; the caller advances
  // scratch_used by what it wrote.
  char* scratch_room(std::size_t n) {
    if (scratch.empty() || scratch.size() - scratch_used < n + kLinePadding) {
      if (scratch_used > 0) filled.push_back(std::move(scratch));
      scratch.clear();
      scratch.resize(std::max(n, kMinScratch) + kLinePadding);
      scratch_used = 0;
    }
    return scratch.data() + scratch_used;
  }

  std::vector<std::string> take() {
    std::vector<std::string> out = std::move(filled);
    filled.clear();
    if (buf_used > 0) {
      // A quiet file gives small reads: the next buffer is sized after this one's use, so a
      // batch does not keep a mostly empty read_buffer_size buffer per read() call.
      if (buf_used * 2 < buf.size()) {
        const std::size_t floor = std::min(opt.read_buffer_size, kMinBuffer);
        next_buf_size = std::clamp(std::bit_ceil(buf_used * 2), floor, opt.read_buffer_size);
      }
      out.push_back(std::move(buf));
      buf.clear();
      buf_used = 0;
    }
    if (scratch_used > 0) {
      out.push_back(std::move(scratch));
      scratch.clear();
      scratch_used = 0;
    }
    return out;
  }

  void drop_buffers() {
    filled.clear();
    buf_used = 0;
    scratch_used = 0;
  }

  // ---- lines ---------------------------------------------------------------------------------

  // Feeds one line or record. `in_buffer`: text lies in a buffer that will be handed over, with
  // padding after it; otherwise it is copied to scratch. `valid`: known to be valid UTF-8.
  void deliver(File& f, const char* text, std::size_t len, std::uint64_t offset, bool truncated, bool valid,
               bool in_buffer) {
    Line line;
    line.offset = offset;
    line.truncated = truncated;
    if (utf8 && !valid && !simdjson::validate_utf8(text, len)) {
      char* out = scratch_room(len * 3);
      const std::size_t n = replace_invalid(text, len, out, line.replaced);
      scratch_used += n;
      stats.invalid_utf8 += line.replaced;
      line.text = std::string_view(out, n);
    } else if (!in_buffer) {
      char* out = scratch_room(len);
      if (len > 0) std::memcpy(out, text, len);
      scratch_used += len;
      line.text = std::string_view(out, len);
    } else {
      line.text = std::string_view(text, len);
    }
    sink->on_line(f.src, line);
    ++stats.lines;
    ++fed;
    if (--lines_left == 0) budget_hit = true;
    const std::size_t used = std::min(bytes_left, len + 1);
    bytes_left -= used;
    if (bytes_left == 0) budget_hit = true;
  }

  // One line from the file (newline and '\r' removed), cut at max_log_size.
  void line(File& f, const char* s, std::size_t len, std::uint64_t offset, bool valid) {
    bool truncated = false;
    if (len > opt.max_log_size) {
      const std::size_t cut = utf8 ? utf8_cut(s, opt.max_log_size) : opt.max_log_size;
      stats.skipped_bytes += len - cut;
      ++stats.truncated_lines;
      len = cut;
      truncated = true;
    }
    if (multiline()) {
      ml_line(f, s, len, offset, truncated);
    } else {
      deliver(f, s, len, offset, truncated, valid, true);
    }
  }

  void ml_begin(File& f, const char* s, std::size_t len, std::uint64_t offset, bool truncated) {
    f.ml_active = true;
    f.ml_offset = offset;
    f.ml_truncated = truncated;
    f.ml_text.assign(s, len);
  }

  // Adds a line to the record; false when the record reached max_log_size and was fed (cut).
  bool ml_append(File& f, const char* s, std::size_t len) {
    const std::size_t size = f.ml_text.size();
    if (size + 1 + len <= opt.max_log_size) {
      f.ml_text.push_back('\n');
      f.ml_text.append(s, len);
      return true;
    }
    std::size_t room = opt.max_log_size > size ? opt.max_log_size - size : 0;
    if (room > 0) {
      f.ml_text.push_back('\n');
      --room;
      const std::size_t take = room < len && utf8 ? utf8_cut(s, room) : std::min(room, len);
      f.ml_text.append(s, std::min(take, room));
      stats.skipped_bytes += len - std::min(take, room);
    } else {
      stats.skipped_bytes += len;
    }
    if (!f.ml_truncated) ++stats.truncated_lines;
    f.ml_truncated = true;
    ml_emit(f);
    f.ml_skip = true;
    return false;
  }

  void ml_emit(File& f) {
    f.ml_active = false;
    deliver(f, f.ml_text.data(), f.ml_text.size(), f.ml_offset, f.ml_truncated, false, false);
    f.ml_text.clear();
    if (f.ml_text.capacity() > kKeepRecordCapacity) std::string().swap(f.ml_text);
  }

  void ml_line(File& f, const char* s, std::size_t len, std::uint64_t offset, bool truncated) {
    const re2::StringPiece text(s, len);
    if (start_re) {
      if (RE2::PartialMatch(text, *start_re)) {
        if (f.ml_active) ml_emit(f);
        f.ml_skip = false;
        ml_begin(f, s, len, offset, truncated);
      } else if (f.ml_skip) {
        stats.skipped_bytes += len;
      } else if (f.ml_active) {
        ml_append(f, s, len);
      } else {
        ml_begin(f, s, len, offset, truncated);  // lines before the first start form a record
      }
      return;
    }
    const bool ends = RE2::PartialMatch(text, *end_re);
    if (f.ml_skip) {
      stats.skipped_bytes += len;
      if (ends) f.ml_skip = false;
      return;
    }
    if (!f.ml_active) {
      ml_begin(f, s, len, offset, truncated);
    } else if (!ml_append(f, s, len)) {
      if (ends) f.ml_skip = false;
      return;
    }
    if (ends) ml_emit(f);
  }

  void finish(File& f) {
    if (f.finished) return;
    f.finished = true;
    sink->on_finished(f.src);
  }

  // The file was truncated (seen by poll): what is pending from the old content is fed, the
  // pipeline flushes, and the file starts again at 0.
  void restart_truncated(File& f) {
    f.truncate_due = false;
    f.skipping = false;
    if (f.ml_active) ml_emit(f);
    f.ml_skip = false;
    sink->on_finished(f.src);
    sink->on_reset(f.src);
    f.src.read_offset = 0;
    f.src.committed_offset = 0;
    f.src.held_since.reset();
    f.committed_skipping = false;
    f.seen_end = 0;
    f.need = 0;
    f.idle_poll = 0;
  }

  // At the end of the file (for now), with `rest` bytes of a line without newline at `partial`
  // (still unconsumed, at buf_used). Returns false: nothing more to read now.
  bool at_end(File& f, char* partial, std::size_t rest) {
    if (rest > 0 || f.ml_active || f.skipping) {
      const auto period = opt.force_flush_period;
      const bool due = period.count() > 0 ? now - f.last_growth >= period : f.gone;
      if (!due) return false;  // looked at again by every read(), for the period to pass
      if (rest > 0) {          // the last line, without its newline: consumed
        const std::uint64_t offset = f.src.read_offset;
        f.src.read_offset += rest;
        stats.bytes += rest;
        buf_used += rest;
        std::size_t len = rest;
        if (partial[len - 1] == '\r') --len;
        line(f, partial, len, offset, false);
      }
      f.skipping = false;
      if (f.ml_active) ml_emit(f);
      f.ml_skip = false;
    }
    if (f.gone) {
      finish(f);
    } else {
      f.idle_poll = polls;  // more data shows in the next poll's stat
    }
    return false;
  }

  // Reads one chunk of a file and feeds its lines. Returns whether more may be read now.
  bool step(File& f) {
    if (f.failed) return at_end(f, nullptr, 0);
    reserve(f.need);
    char* base = buf.data() + buf_used;
    const std::size_t req = std::min(buf_room(), std::max(opt.read_buffer_size, f.need));
    const ssize_t got = ::pread(f.fd, base, req, static_cast<off_t>(f.src.read_offset));
    if (got < 0) {
      if (errno == EINTR) return true;
      ++stats.open_errors;
      f.failed = true;
      f.gone = true;
      return at_end(f, nullptr, 0);
    }
    const auto n = static_cast<std::size_t>(got);
    const std::uint64_t start = f.src.read_offset;
    const std::uint64_t end = start + n;
    if (end > f.seen_end) {
      f.seen_end = end;
      f.last_growth = now;
    }
    if (f.fp.size() < opt.fingerprint_size && start <= f.fp.size() && end > f.fp.size()) {
      const std::uint64_t upto = std::min<std::uint64_t>(end, opt.fingerprint_size);
      f.fp.append(base + (f.fp.size() - start), static_cast<std::size_t>(upto - f.fp.size()));
    }
    f.need = 0;

    // One UTF-8 check for every complete line of the chunk: '\n' never sits inside a sequence.
    const char* last_nl = n > 0 ? static_cast<const char*>(::memrchr(base, '\n', n)) : nullptr;
    const bool valid = !utf8 || (last_nl != nullptr && simdjson::validate_utf8(base, last_nl - base));

    std::size_t p = 0;
    while (p < n) {
      char* s = base + p;
      const char* nl = static_cast<const char*>(std::memchr(s, '\n', n - p));
      if (nl == nullptr) break;
      std::size_t len = static_cast<std::size_t>(nl - s);
      const std::uint64_t offset = f.src.read_offset;
      f.src.read_offset += len + 1;
      stats.bytes += len + 1;
      p += len + 1;
      if (f.skipping) {  // the end of a line cut at max_log_size
        f.skipping = false;
        stats.skipped_bytes += len;
        continue;
      }
      if (len > 0 && s[len - 1] == '\r') --len;
      line(f, s, len, offset, valid);
      if (budget_hit) {
        buf_used += p;  // the rest of the chunk is read again next time
        return true;
      }
    }
    std::size_t rest = n - p;
    std::size_t used = p;  // buffer bytes lines point into; dropped bytes are overwritten
    if (rest > 0 && f.skipping) {
      stats.skipped_bytes += rest;
      f.src.read_offset += rest;
      stats.bytes += rest;
      rest = 0;
    } else if (rest > 0 && too_long(base + p, rest)) {
      // A line longer than max_log_size: its head is fed now, the rest dropped up to its newline.
      const std::uint64_t offset = f.src.read_offset;
      f.src.read_offset += rest;
      stats.bytes += rest;
      f.skipping = true;
      f.skip_start = offset;
      line(f, base + p, rest, offset, false);
      used = p + std::min(rest, opt.max_log_size);
      rest = 0;
    }
    buf_used += used;
    const bool at_eof = n < req;
    if (budget_hit) return true;
    if (!at_eof) {
      // A line bigger than the room this read had: next time, a buffer where it fits.
      if (p == 0 && rest > 0) f.need = rest + std::max(rest, std::min(opt.read_buffer_size, kMinRead));
      return true;
    }
    return at_end(f, base + p, rest);
  }

  // Whether `rest` bytes without a newline are already more than max_log_size (a trailing '\r'
  // may still belong to a line of exactly max_log_size).
  bool too_long(const char* s, std::size_t rest) const {
    if (rest > opt.max_log_size + 1) return true;
    return rest == opt.max_log_size + 1 && s[rest - 1] != '\r';
  }

  std::size_t read(LineSink& s, std::size_t max_lines, std::size_t max_bytes, Clock::time_point t) {
    sink = &s;
    now = t;
    lines_left = max_lines == 0 ? std::numeric_limits<std::size_t>::max() : max_lines;
    bytes_left = max_bytes == 0 ? std::numeric_limits<std::size_t>::max() : max_bytes;
    fed = 0;
    budget_hit = false;
    ++read_calls;
    for (auto& f : files) {
      if (f->reset_due) {
        f->reset_due = false;
        sink->on_reset(f->src);
      }
      if (f->truncate_due && f->fd >= 0) restart_truncated(*f);
      if (f->fd < 0 && f->gone) finish(*f);  // closed to make room, then gone: nothing to read
    }
    // Files rotated away or deleted first, to their end: with rename-and-create, the old file's
    // last lines come before the new file's first ones.
    for (auto& f : files) {
      if (budget_hit) break;
      if (f->fd < 0 || !f->gone || f->finished || f->truncate_due) continue;
      while (!budget_hit && step(*f)) {
      }
      if (!budget_hit) f->eof_call = read_calls;
    }
    const std::size_t count = files.size();
    bool progress = true;
    while (progress && !budget_hit) {
      progress = false;
      for (std::size_t k = 0; k < count && !budget_hit; ++k) {
        File& f = *files[(next_file + k) % count];
        if (f.fd < 0 || f.finished || f.truncate_due || f.eof_call == read_calls || f.idle_poll == polls)
          continue;
        if (step(f)) {
          progress = true;
        } else {
          f.eof_call = read_calls;
        }
      }
    }
    if (count > 0) next_file = (next_file + 1) % count;
    sink = nullptr;
    return fed;
  }

  // ---- commit ---------------------------------------------------------------------------------

  void commit() {
    for (auto& f : files) {
      std::uint64_t c = f->src.read_offset;
      if (f->ml_active) c = std::min(c, f->ml_offset);
      if (f->src.held_since) c = std::min(c, *f->src.held_since);
      f->committed_skipping = f->skipping && c == f->src.read_offset;
      f->committed_skip_start = f->skip_start;
      f->src.committed_offset = c;
    }
    std::erase_if(files, [&](std::unique_ptr<File>& f) {
      if (!f->finished || f->src.committed_offset != f->src.read_offset) return false;
      close_fd(*f);
      remember(f->src.path, f->fp, f->src.read_offset);
      return true;
    });
    if (!files.empty()) next_file %= files.size();
  }

  void rewind(LineSink& s) {
    for (auto& f : files) {
      if (f->src.read_offset != f->src.committed_offset) f->finished = false;
      f->src.read_offset = f->src.committed_offset;
      f->skipping = f->committed_skipping;
      f->skip_start = f->committed_skip_start;
      f->ml_active = false;
      f->ml_skip = false;
      f->ml_text.clear();
      f->need = 0;
      f->idle_poll = 0;
      f->src.held_since.reset();
      f->reset_due = false;
      s.on_reset(f->src);
    }
    drop_buffers();
  }

  std::vector<FileCheckpoint> checkpoint() const {
    std::vector<FileCheckpoint> out;
    out.reserve(files.size() + archive.size());
    for (const auto& f : files) {
      if (f->fp.empty()) continue;
      std::uint64_t offset = f->committed_skipping ? f->committed_skip_start : f->src.committed_offset;
      if (f->truncate_due) offset = 0;
      out.push_back({f->src.path, f->fp, offset});
    }
    for (const auto& k : archive) out.push_back({k.path, k.fp, k.offset});
    return out;
  }
};

// ---------------------------------------------------------------------------------------------

Tailer::Tailer(TailerOptions options) {
  impl_ = std::make_unique<Impl>(std::move(options), stats_);
}

Tailer::~Tailer() = default;

std::string Tailer::validate(const TailerOptions& o) {
  if (o.include.empty()) return "include: at least one glob is required";
  for (std::size_t i = 0; i < o.include.size(); ++i) {
    std::string e = check_glob(o.include[i]);
    if (!e.empty()) return "include[" + std::to_string(i) + "]: " + e;
  }
  for (std::size_t i = 0; i < o.exclude.size(); ++i) {
    std::string e = check_glob(o.exclude[i]);
    if (!e.empty()) return "exclude[" + std::to_string(i) + "]: " + e;
  }
  if (o.fingerprint_size < kMinFingerprint) {
    return "fingerprint_size must be at least " + std::to_string(kMinFingerprint) + " bytes";
  }
  if (o.max_log_size == 0) return "max_log_size must be positive";
  if (o.max_concurrent_files == 0) return "max_concurrent_files must be positive";
  if (o.read_buffer_size == 0) return "read_buffer_size must be positive";
  if (o.force_flush_period.count() < 0) return "force_flush_period must not be negative";
  if (!is_utf8_name(o.encoding) && lower(o.encoding) != "nop") {
    return "encoding \"" + o.encoding + "\" is not supported (utf-8, nop)";
  }
  if (!o.line_start_pattern.empty() && !o.line_end_pattern.empty()) {
    return "multiline: only one of line_start_pattern and line_end_pattern may be set";
  }
  for (const auto* p : {&o.line_start_pattern, &o.line_end_pattern}) {
    if (p->empty()) continue;
    RE2::Options ro;
    ro.set_log_errors(false);
    RE2 re(*p, ro);
    const char* name = p == &o.line_start_pattern ? "line_start_pattern" : "line_end_pattern";
    if (!re.ok()) return std::string("multiline: ") + name + ": " + re.error();
  }
  return {};
}

void Tailer::poll_files() {
  impl_->poll();
}

std::size_t Tailer::read(LineSink& sink, std::size_t max_lines, std::size_t max_bytes,
                         std::chrono::steady_clock::time_point now) {
  return impl_->read(sink, max_lines, max_bytes, now);
}

void Tailer::commit(LineSink& /*sink*/) {
  impl_->commit();
}

void Tailer::rewind(LineSink& sink) {
  impl_->rewind(sink);
}

std::vector<FileCheckpoint> Tailer::checkpoint() const {
  return impl_->checkpoint();
}

void Tailer::restore(std::vector<FileCheckpoint> files) {
  for (auto& f : files) {
    if (f.fingerprint.empty()) continue;
    impl_->archive.push_back(Known{std::move(f.path), std::move(f.fingerprint), f.offset, 0, true});
  }
}

std::size_t Tailer::open_files() const {
  std::size_t n = 0;
  for (const auto& f : impl_->files) n += f->fd >= 0 ? 1 : 0;
  return n;
}

std::vector<std::string> Tailer::take_buffers() {
  return impl_->take();
}

}  // namespace vigil::collectors::filelog
