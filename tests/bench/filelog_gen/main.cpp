// vigil_filelog_gen: writes application log lines to a file (or stdout) for the filelog benchmarks
// and integration tests: JSON lines like a service's structured log, the same wrapped by a
// container runtime (CRI, Docker json-file), or plain text with Java stack traces; optionally
// paced, and rotated (rename or copy-truncate) while it writes.
//
// Every record carries a `seq` field (plain: "seq=<n>") counting from 0 in the order records are
// generated, so a test can check that each arrived exactly once. Output is deterministic for a
// given --seed (timestamps are synthetic, starting at 2026-11-22T10:00:00Z).
//
// Output goes through one large buffer, written when full; with --rate it is also written
// before each pause, so a reader sees lines as they are produced.
//
// The last line on stderr is machine-readable:
//   vigil_filelog_gen format=json lines=N physical_lines=N bytes=N seconds=S lines_per_s=R
//                     mib_per_s=R rotations=N
// `lines` counts records; `physical_lines` counts newlines written (a CRI partial, a Docker
// 16 KiB split or a stack trace is one record on several lines).
// Exit status: 0 done, 1 I/O error, 2 usage error.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: vigil_filelog_gen [options]\n"
    "  --format json|cri|docker|plain   what to write (default json)\n"
    "  --lines N                 records to write (default 1000)\n"
    "  --out PATH                output file, '-' for stdout (default -)\n"
    "  --append                  append to PATH instead of truncating it\n"
    "  --rate N                  records per second; 0 = as fast as possible (default 0)\n"
    "  --seed N                  random seed (default 1)\n"
    "  --partial-every K         cri: every K-th record split into P..F parts, with a record of the\n"
    "                            other stream (stdout/stderr) written between the parts\n"
    "  --long-every K            docker: every K-th record is --long-bytes long, split into 16 KiB\n"
    "                            parts as Docker's json-file driver does\n"
    "  --long-bytes N            length of those records (default 40000)\n"
    "  --stack-every K           plain: every K-th record is an error with a Java stack trace\n"
    "  --rotate-every N          rotate PATH after every N records\n"
    "  --rotate-mode rename|copytruncate   (default rename)\n"
    "                            rename: PATH.k -> PATH.k+1, PATH -> PATH.1, new PATH\n"
    "                            copytruncate: PATH.k -> PATH.k+1, copy PATH to PATH.1, truncate\n"
    "  --rotate-keep N           keep at most N rotated files; 0 = all (default 0)\n"
    "  --buffer BYTES            output buffer size (default 4194304)\n";

enum class Format { kJson, kCri, kDocker, kPlain };
enum class RotateMode { kRename, kCopyTruncate };

struct Options {
  Format format = Format::kJson;
  std::uint64_t lines = 1000;
  std::string out = "-";
  bool append = false;
  double rate = 0;
  std::uint64_t seed = 1;
  std::uint64_t partial_every = 0;
  std::uint64_t long_every = 0;
  std::uint64_t long_bytes = 40000;
  std::uint64_t stack_every = 0;
  std::uint64_t rotate_every = 0;
  RotateMode rotate_mode = RotateMode::kRename;
  std::uint64_t rotate_keep = 0;
  std::size_t buffer = 4 * 1024 * 1024;
};

// Docker's json-file driver cuts a line into messages of at most this many bytes.
constexpr std::size_t kDockerChunk = 16 * 1024;

[[noreturn]] void die(const std::string& message, int code) {
  std::fprintf(stderr, "vigil_filelog_gen: %s\n", message.c_str());
  std::exit(code);
}

std::string errno_text() {
  return std::strerror(errno);
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg == "--append") {
      o.append = true;
      continue;
    }
    if (i + 1 >= argc) die(std::string(arg) + ": missing value\n" + kUsage, 2);
    const std::string_view v = argv[++i];
    bool ok = true;
    std::uint64_t n = 0;
    if (arg == "--format") {
      if (v == "json")
        o.format = Format::kJson;
      else if (v == "cri")
        o.format = Format::kCri;
      else if (v == "docker")
        o.format = Format::kDocker;
      else if (v == "plain")
        o.format = Format::kPlain;
      else
        ok = false;
    } else if (arg == "--lines") {
      ok = parse_u64(v, o.lines);
    } else if (arg == "--out") {
      o.out = std::string(v);
      ok = !v.empty();
    } else if (arg == "--rate") {
      const std::string s(v);
      char* end = nullptr;
      o.rate = std::strtod(s.c_str(), &end);
      ok = !s.empty() && end == s.c_str() + s.size() && o.rate >= 0;
    } else if (arg == "--seed") {
      ok = parse_u64(v, o.seed);
    } else if (arg == "--partial-every") {
      ok = parse_u64(v, o.partial_every);
    } else if (arg == "--long-every") {
      ok = parse_u64(v, o.long_every);
    } else if (arg == "--long-bytes") {
      ok = parse_u64(v, o.long_bytes) && o.long_bytes <= 64 * 1024 * 1024;
    } else if (arg == "--stack-every") {
      ok = parse_u64(v, o.stack_every);
    } else if (arg == "--rotate-every") {
      ok = parse_u64(v, o.rotate_every);
    } else if (arg == "--rotate-mode") {
      if (v == "rename")
        o.rotate_mode = RotateMode::kRename;
      else if (v == "copytruncate")
        o.rotate_mode = RotateMode::kCopyTruncate;
      else
        ok = false;
    } else if (arg == "--rotate-keep") {
      ok = parse_u64(v, o.rotate_keep);
    } else if (arg == "--buffer") {
      ok = parse_u64(v, n) && n >= 4096 && n <= (1u << 30);
      o.buffer = static_cast<std::size_t>(n);
    } else {
      die("unknown option " + std::string(arg) + "\n" + kUsage, 2);
    }
    if (!ok) die("bad value for " + std::string(arg) + ": " + std::string(v), 2);
  }
  if (o.partial_every != 0 && o.format != Format::kCri) die("--partial-every needs --format cri", 2);
  if (o.long_every != 0 && o.format != Format::kDocker) die("--long-every needs --format docker", 2);
  if (o.stack_every != 0 && o.format != Format::kPlain) die("--stack-every needs --format plain", 2);
  if (o.rotate_every != 0 && o.out == "-") die("--rotate-every needs --out PATH", 2);
  return o;
}

// splitmix64: fast, and the same sequence for the same seed everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }

 private:
  std::uint64_t state_;
};

void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_padded(std::string& out, std::uint64_t v, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

void append_hex(std::string& out, std::uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = kHex[v & 0xf];
    v >>= 4;
  }
  out.append(buf, static_cast<std::size_t>(digits));
}

// Days since 1970-01-01 (H. Hinnant's civil-date algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

// RFC 3339 UTC timestamps; the date and time of day are formatted once per second.
class Clock {
 public:
  explicit Clock(std::int64_t start_ns) : ns_(start_ns) {}
  void advance(std::int64_t ns) { ns_ += ns; }
  // "2026-11-22T10:00:00.123456Z" (digits: 6) or with nanoseconds (digits: 9).
  void append(std::string& out, int digits) {
    const std::int64_t sec = ns_ / 1000000000;
    if (sec != cached_sec_) {
      cached_sec_ = sec;
      std::int64_t y = 0;
      unsigned m = 0, d = 0;
      civil_from_days(sec / 86400, y, m, d);
      const std::int64_t tod = sec % 86400;
      cached_.clear();
      append_padded(cached_, static_cast<std::uint64_t>(y), 4);
      cached_ += '-';
      append_padded(cached_, m, 2);
      cached_ += '-';
      append_padded(cached_, d, 2);
      cached_ += 'T';
      append_padded(cached_, static_cast<std::uint64_t>(tod / 3600), 2);
      cached_ += ':';
      append_padded(cached_, static_cast<std::uint64_t>(tod / 60 % 60), 2);
      cached_ += ':';
      append_padded(cached_, static_cast<std::uint64_t>(tod % 60), 2);
      cached_ += '.';
    }
    out += cached_;
    const auto frac = static_cast<std::uint64_t>(ns_ % 1000000000);
    append_padded(out, digits == 9 ? frac : frac / 1000, digits);
    out += 'Z';
  }

 private:
  std::int64_t ns_;
  std::int64_t cached_sec_ = -1;
  std::string cached_;
};

// Buffered output with rotation. Writes are O_APPEND, so after a copy-truncate the next bytes go
// to the start of the file, as a logging library's would.
class Output {
 public:
  explicit Output(const Options& o) : path_(o.out), buffer_(o.buffer) {
    if (path_ == "-") {
      fd_ = 1;
      return;
    }
    open_file(o.append);
  }
  ~Output() {
    if (fd_ > 1) ::close(fd_);
  }

  void append(std::string_view data) {
    bytes_ += data.size();
    if (used_ + data.size() > buffer_.size()) flush();
    if (data.size() > buffer_.size()) {
      write_all(data);
      return;
    }
    std::memcpy(buffer_.data() + used_, data.data(), data.size());
    used_ += data.size();
  }

  void flush() {
    if (used_ == 0) return;
    write_all(std::string_view(buffer_.data(), used_));
    used_ = 0;
  }

  // Shifts PATH.k to PATH.k+1 (dropping what is beyond `keep`), then moves the current content
  // to PATH.1.
  void rotate(RotateMode mode, std::uint64_t keep) {
    flush();
    std::uint64_t last = 0;
    while (exists(rotated(last + 1))) ++last;
    for (std::uint64_t k = last; k >= 1; --k) {
      if (keep != 0 && k >= keep) {
        if (::unlink(rotated(k).c_str()) != 0) die("cannot remove " + rotated(k) + ": " + errno_text(), 1);
      } else if (::rename(rotated(k).c_str(), rotated(k + 1).c_str()) != 0) {
        die("cannot rename " + rotated(k) + ": " + errno_text(), 1);
      }
    }
    if (mode == RotateMode::kRename) {
      if (::rename(path_.c_str(), rotated(1).c_str()) != 0)
        die("cannot rename " + path_ + ": " + errno_text(), 1);
      ::close(fd_);
      open_file(false);
    } else {
      copy_to(rotated(1));
      if (::ftruncate(fd_, 0) != 0) die("cannot truncate " + path_ + ": " + errno_text(), 1);
    }
    ++rotations_;
  }

  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t rotations() const { return rotations_; }

 private:
  void open_file(bool append) {
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC);
    fd_ = ::open(path_.c_str(), flags, 0644);
    if (fd_ < 0) die("cannot open " + path_ + ": " + errno_text(), 1);
  }

  void write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        die("cannot write " + path_ + ": " + errno_text(), 1);
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void copy_to(const std::string& target) {
    const int in = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) die("cannot open " + path_ + ": " + errno_text(), 1);
    const int out = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) die("cannot create " + target + ": " + errno_text(), 1);
    std::vector<char> chunk(1 << 20);
    for (;;) {
      const ssize_t n = ::read(in, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("cannot read " + path_ + ": " + errno_text(), 1);
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(out, chunk.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("cannot write " + target + ": " + errno_text(), 1);
        done += w;
      }
    }
    ::close(in);
    ::close(out);
  }

  std::string rotated(std::uint64_t k) const { return path_ + "." + std::to_string(k); }
  static bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
  }

  std::string path_;
  int fd_ = -1;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t rotations_ = 0;
};

struct Message {
  const char* level;  // JSON level
  const char* plain;  // plain-text level, padded
  std::string_view text;
};

// Weighted like a service's log: mostly info.
constexpr std::array<Message, 16> kMessages = {{
    {"info", "INFO ", "order created"},
    {"info", "INFO ", "payment authorized"},
    {"info", "INFO ", "inventory reserved"},
    {"info", "INFO ", "order shipped"},
    {"info", "INFO ", "cart updated"},
    {"info", "INFO ", "user signed in"},
    {"info", "INFO ", "order created"},
    {"info", "INFO ", "payment captured"},
    {"info", "INFO ", "order created"},
    {"info", "INFO ", "email sent"},
    {"info", "INFO ", "order created"},
    {"debug", "DEBUG", "cache miss"},
    {"debug", "DEBUG", "db query executed"},
    {"warn", "WARN ", "slow database query"},
    {"warn", "WARN ", "retrying payment provider"},
    {"error", "ERROR", "webhook delivery failed"},
}};

constexpr std::array<std::string_view, 8> kFrames = {
    "com.example.shop.payment.PaymentClient.authorize(PaymentClient.java:142)",
    "com.example.shop.payment.PaymentService.charge(PaymentService.java:88)",
    "com.example.shop.order.OrderService.place(OrderService.java:211)",
    "com.example.shop.order.OrderController.create(OrderController.java:57)",
    "jdk.internal.reflect.GeneratedMethodAccessor42.invoke(Unknown Source)",
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)",
    "java.base/java.lang.Thread.run(Thread.java:833)",
};

class Generator {
 public:
  Generator(const Options& o, Output& out)
      : o_(o),
        out_(out),
        rng_(o.seed),
        clock_(days_from_civil(2026, 11, 22) * 86400 * 1000000000LL + 10LL * 3600 * 1000000000LL) {
    line_.reserve(1024);
    record_.reserve(4096);
  }

  void run() {
    using SteadyClock = std::chrono::steady_clock;
    const auto start = SteadyClock::now();
    for (std::uint64_t seq = 0; seq < o_.lines;) {
      if (o_.rate > 0) pace(start, seq);
      const std::uint64_t before = seq;
      seq += write_record(seq);
      // At the first record boundary past each multiple of rotate_every (a CRI split record and
      // the one written between its parts are not separated).
      if (o_.rotate_every != 0 && seq < o_.lines && seq / o_.rotate_every != before / o_.rotate_every) {
        out_.rotate(o_.rotate_mode, o_.rotate_keep);
      }
    }
    out_.flush();
    seconds_ = std::chrono::duration<double>(SteadyClock::now() - start).count();
  }

  std::uint64_t physical_lines() const { return physical_lines_; }
  double seconds() const { return seconds_; }

 private:
  // Sleeps until record `seq` is due; what is buffered is written first so a reader sees it.
  void pace(std::chrono::steady_clock::time_point start, std::uint64_t seq) {
    const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(seq) / o_.rate));
    const auto now = std::chrono::steady_clock::now();
    // Below a millisecond ahead, sleeping costs more than it paces.
    if (due - now < std::chrono::milliseconds(1)) return;
    out_.flush();
    std::this_thread::sleep_until(due);
  }

  static bool every(std::uint64_t k, std::uint64_t seq) { return k != 0 && (seq + 1) % k == 0; }

  // Writes record `seq` (and, for a split CRI record, the one written between its parts);
  // returns how many records were written.
  std::uint64_t write_record(std::uint64_t seq) {
    clock_.advance(1000 + static_cast<std::int64_t>(rng_.below(2000000)));
    switch (o_.format) {
      case Format::kJson:
        json_line(line_, seq, 0);
        line_ += '\n';
        emit(line_);
        return 1;
      case Format::kPlain:
        plain_record(seq);
        return 1;
      case Format::kDocker:
        docker_record(seq);
        return 1;
      case Format::kCri:
        return cri_records(seq);
    }
    return 1;
  }

  void emit(std::string_view data) {
    physical_lines_ += static_cast<std::uint64_t>(std::count(data.begin(), data.end(), '\n'));
    out_.append(data);
  }

  // One JSON record of about 210 bytes; with `min_size`, padded with a "payload" field to exactly
  // that many bytes (when it is longer than the record would be).
  void json_line(std::string& out, std::uint64_t seq, std::size_t min_size) {
    const Message& m = kMessages[rng_.below(kMessages.size())];
    last_message_ = &m;
    out.clear();
    out += R"({"ts":")";
    clock_.append(out, 6);
    out += R"(","level":")";
    out += m.level;
    out += R"(","msg":")";
    out += m.text;
    out += R"(","trace_id":")";
    append_hex(out, rng_.next(), 16);
    append_hex(out, rng_.next(), 16);
    out += R"(","span_id":")";
    append_hex(out, rng_.next(), 16);
    out += R"(","order_id":"ord-)";
    append_padded(out, rng_.below(10000000), 7);
    out += R"(","latency_ms":)";
    append_uint(out, rng_.below(m.level[0] == 'w' ? 5000 : 400));
    out += '.';
    append_uint(out, rng_.below(10));
    out += R"(,"seq":)";
    append_uint(out, seq);
    if (min_size != 0) {
      constexpr std::string_view kField = R"(,"payload":")";
      const std::size_t fixed = out.size() + kField.size() + 2;  // + "}
      if (min_size > fixed) {
        out += kField;
        for (std::size_t i = 0, n = min_size - fixed; i < n; ++i) {
          out += static_cast<char>('a' + (seq + i) % 26);
        }
        out += '"';
      }
    }
    out += '}';
  }

  void plain_record(std::uint64_t seq) {
    const bool stack = every(o_.stack_every, seq);
    const Message& m = stack ? kMessages.back() : kMessages[rng_.below(kMessages.size())];
    line_.clear();
    clock_.append(line_, 6);
    line_ += ' ';
    line_ += m.plain;
    line_ += " [http-nio-8080-exec-";
    append_uint(line_, 1 + rng_.below(16));
    line_ += "] c.e.shop.order.OrderService - ";
    line_ += m.text;
    line_ += " order_id=ord-";
    append_padded(line_, rng_.below(10000000), 7);
    line_ += " trace_id=";
    append_hex(line_, rng_.next(), 16);
    append_hex(line_, rng_.next(), 16);
    line_ += " latency_ms=";
    append_uint(line_, rng_.below(400));
    line_ += '.';
    append_uint(line_, rng_.below(10));
    line_ += " seq=";
    append_uint(line_, seq);
    line_ += '\n';
    if (stack) {
      // What logback prints for an exception: the message line, the exception, "\tat" frames, and
      // a cause with its own frames and "... N more".
      line_ += "java.lang.IllegalStateException: payment provider returned 502 for order seq=";
      append_uint(line_, seq);
      line_ += '\n';
      const std::size_t frames = 3 + rng_.below(kFrames.size() - 2);
      for (std::size_t i = 0; i < frames; ++i) {
        line_ += "\tat ";
        line_ += kFrames[i];
        line_ += '\n';
      }
      line_ += "Caused by: java.net.SocketTimeoutException: Read timed out\n";
      line_ += "\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)\n";
      line_ += "\tat ";
      line_ += kFrames[0];
      line_ += '\n';
      line_ += "\t... ";
      append_uint(line_, frames - 1);
      line_ += " more\n";
    }
    emit(line_);
  }

  // {"log":"<line>\n","stream":"stdout","time":"..."}, the line cut into 16 KiB messages as
  // Docker's json-file driver writes it: every full message without "\n", the last with it
  // (empty when the length is a multiple of 16 KiB).
  void docker_record(std::uint64_t seq) {
    const bool long_line = every(o_.long_every, seq);
    json_line(line_, seq, long_line ? static_cast<std::size_t>(o_.long_bytes) : 0);
    const char* stream = last_message_->level[0] == 'e' ? "stderr" : "stdout";
    std::string_view rest = line_;
    record_.clear();
    for (;;) {
      const bool last = rest.size() < kDockerChunk;
      const std::string_view part = last ? rest : rest.substr(0, kDockerChunk);
      record_ += R"({"log":")";
      json_escape(record_, part);
      if (last) record_ += "\\n";
      record_ += R"(","stream":")";
      record_ += stream;
      record_ += R"(","time":")";
      clock_.append(record_, 9);
      record_ += "\"}\n";
      if (last) break;
      rest.remove_prefix(kDockerChunk);
      clock_.advance(1000);
    }
    emit(record_);
  }

  static void json_escape(std::string& out, std::string_view s) {
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20) {
        out += "\\u00";
        append_hex(out, u, 2);
      } else {
        out += c;
      }
    }
  }

  // "<time> <stream> P|F <part>" lines. A record due to be split is written as P parts, then the
  // next record on the other stream (split itself when it is due too), then the final F part, so
  // a reader must join partials per stream.
  std::uint64_t cri_records(std::uint64_t seq) {
    record_.clear();
    if (!every(o_.partial_every, seq)) {
      cri_whole(seq, "stdout");
      emit(record_);
      return 1;
    }
    const bool on_stdout = splits_++ % 2 == 0;
    const char* stream = on_stdout ? "stdout" : "stderr";
    const char* other = on_stdout ? "stderr" : "stdout";
    json_line(held_, seq, 0);
    // Two or three parts, none empty.
    const std::string_view held = held_;
    const std::size_t n = held.size();
    std::size_t from = 0;
    if (rng_.below(2) == 0) {
      from = 1 + rng_.below(n - 1);
      cri_line(stream, 'P', held.substr(0, from));
    } else {
      from = 1 + rng_.below(n - 2);
      const std::size_t cut2 = from + 1 + rng_.below(n - 1 - from);
      cri_line(stream, 'P', held.substr(0, from));
      cri_line(stream, 'P', held.substr(from, cut2 - from));
      from = cut2;
    }
    std::uint64_t written = 1;
    if (seq + 1 < o_.lines) {
      clock_.advance(1000 + static_cast<std::int64_t>(rng_.below(100000)));
      json_line(line_, seq + 1, 0);
      if (every(o_.partial_every, seq + 1)) {
        const std::size_t cut = 1 + rng_.below(line_.size() - 1);
        cri_line(other, 'P', std::string_view(line_).substr(0, cut));
        cri_line(other, 'F', std::string_view(line_).substr(cut));
      } else {
        cri_line(other, 'F', line_);
      }
      written = 2;
    }
    cri_line(stream, 'F', held.substr(from));
    emit(record_);
    return written;
  }

  void cri_whole(std::uint64_t seq, const char* stream) {
    json_line(line_, seq, 0);
    cri_line(stream, 'F', line_);
  }

  void cri_line(const char* stream, char tag, std::string_view part) {
    clock_.append(record_, 9);
    record_ += ' ';
    record_ += stream;
    record_ += ' ';
    record_ += tag;
    record_ += ' ';
    record_ += part;
    record_ += '\n';
  }

  const Options& o_;
  Output& out_;
  Rng rng_;
  Clock clock_;
  std::string line_, held_, record_;
  const Message* last_message_ = &kMessages[0];
  std::uint64_t splits_ = 0;
  std::uint64_t physical_lines_ = 0;
  double seconds_ = 0;
};

const char* format_name(Format f) {
  switch (f) {
    case Format::kJson:
      return "json";
    case Format::kCri:
      return "cri";
    case Format::kDocker:
      return "docker";
    case Format::kPlain:
      return "plain";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  Output out(o);
  Generator gen(o, out);
  gen.run();
  const double s = gen.seconds();
  const double rate = s > 0 ? static_cast<double>(o.lines) / s : 0;
  const double mib = s > 0 ? static_cast<double>(out.bytes()) / (1024.0 * 1024.0) / s : 0;
  std::fprintf(stderr,
               "vigil_filelog_gen format=%s lines=%llu physical_lines=%llu bytes=%llu seconds=%.3f "
               "lines_per_s=%.0f mib_per_s=%.1f rotations=%llu\n",
               format_name(o.format), static_cast<unsigned long long>(o.lines),
               static_cast<unsigned long long>(gen.physical_lines()),
               static_cast<unsigned long long>(out.bytes()), s, rate, mib,
               static_cast<unsigned long long>(out.rotations()));
  return 0;
}
