// Tailer: globs, identity by fingerprint, rotation and truncation, line cutting, multiline,
// commit/rewind and checkpoints, driven deterministically (explicit `now`, no sleeps).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collectors/filelog/tailer.hpp"
#include "tests/support/process.hpp"

namespace vigil::testing {

namespace fl = vigil::collectors::filelog;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct SeenLine {
  std::string path;
  std::string text;
  std::uint64_t offset = 0;
  bool truncated = false;
  std::uint32_t replaced = 0;
  const char* data = nullptr;
};

class RecordingSink : public fl::LineSink {
 public:
  void on_line(fl::FileSource& file, const fl::Line& line) override {
    lines.push_back(
        {file.path, std::string(line.text), line.offset, line.truncated, line.replaced, line.text.data()});
    sources[file.path] = &file;
    if (on_line_hook) on_line_hook(file, line);
  }
  void on_reset(fl::FileSource& file) override { resets.push_back(file.path); }
  void on_finished(fl::FileSource& file) override { finished.push_back(file.path); }

  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.text);
    return out;
  }
  std::vector<std::string> texts_of(const std::string& path) const {
    std::vector<std::string> out;
    for (const auto& l : lines) {
      if (l.path == path) out.push_back(l.text);
    }
    return out;
  }

  std::vector<SeenLine> lines;
  std::vector<std::string> resets;
  std::vector<std::string> finished;
  std::map<std::string, fl::FileSource*> sources;
  std::function<void(fl::FileSource&, const fl::Line&)> on_line_hook;
};

void append(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  ::close(fd);
}

void truncate_to(const std::string& path, off_t size) {
  REQUIRE(::truncate(path.c_str(), size) == 0);
}

std::string lines_text(const std::string& prefix, int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

std::vector<std::string> names(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// Drives a Tailer like the receiver does: poll, read, take the buffers, commit. Checks the
// zero-copy contract on every line: its text lies in a taken buffer with kLinePadding bytes after.
class Harness {
 public:
  explicit Harness(fl::TailerOptions o) : tailer(std::move(o)) {}

  std::size_t read(std::size_t max_lines = 0, std::size_t max_bytes = 0) {
    const std::size_t before = sink.lines.size();
    const std::size_t n = tailer.read(sink, max_lines, max_bytes, now);
    check_padding(before);
    return n;
  }
  // poll + read everything + commit
  std::size_t pump() {
    tailer.poll_files();
    const std::size_t n = read();
    tailer.commit(sink);
    return n;
  }
  void advance(std::chrono::nanoseconds d) { now += d; }

  void check_padding(std::size_t from) {
    for (auto& b : tailer.take_buffers()) kept.push_back(std::move(b));
    for (std::size_t i = from; i < sink.lines.size(); ++i) {
      const SeenLine& l = sink.lines[i];
      bool inside = false;
      for (const auto& b : kept) {
        const char* begin = b.data();
        const char* end = b.data() + b.size();
        if (l.data >= begin && l.data + l.text.size() + fl::kLinePadding <= end) {
          inside = std::string_view(l.data, l.text.size()) == l.text;
          break;
        }
      }
      CHECK_MESSAGE(inside, "line " << i << " (" << l.text.substr(0, 40) << ") not in a padded buffer");
    }
  }

  fl::Tailer tailer;
  RecordingSink sink;
  Clock::time_point now = Clock::time_point(10h);
  std::vector<std::string> kept;
};

fl::TailerOptions options(const std::string& glob, bool beginning = true) {
  fl::TailerOptions o;
  o.include = {glob};
  o.start_at_beginning = beginning;
  return o;
}

TEST_CASE("tailer: validate") {
  fl::TailerOptions o = options("/tmp/*.log");
  CHECK(fl::Tailer::validate(o).empty());
  SUBCASE("no include") {
    o.include.clear();
    CHECK(fl::Tailer::validate(o).find("include") != std::string::npos);
  }
  SUBCASE("bad glob") {
    o.include = {"/var/log/[abc.log"};
    CHECK(fl::Tailer::validate(o).find("unclosed") != std::string::npos);
    o.include = {"/var/log/*.log"};
    o.exclude = {"/var/log/[x"};
    CHECK(fl::Tailer::validate(o).find("exclude[0]") != std::string::npos);
  }
  SUBCASE("encoding") {
    o.encoding = "UTF-8";
    CHECK(fl::Tailer::validate(o).empty());
    o.encoding = "nop";
    CHECK(fl::Tailer::validate(o).empty());
    o.encoding = "utf-16le";
    CHECK(fl::Tailer::validate(o).find("utf-16le") != std::string::npos);
  }
  SUBCASE("multiline") {
    o.line_start_pattern = "^\\d+";
    CHECK(fl::Tailer::validate(o).empty());
    o.line_end_pattern = "x$";
    CHECK(fl::Tailer::validate(o).find("only one") != std::string::npos);
    o.line_end_pattern.clear();
    o.line_start_pattern = "(unclosed";
    CHECK(fl::Tailer::validate(o).find("line_start_pattern") != std::string::npos);
  }
  SUBCASE("sizes") {
    o.fingerprint_size = 4;
    CHECK(!fl::Tailer::validate(o).empty());
    o.fingerprint_size = 1024;
    o.max_concurrent_files = 0;
    CHECK(!fl::Tailer::validate(o).empty());
  }
}

TEST_CASE("tailer: start_at end and beginning, new files after the first poll") {
  TempDir dir;
  append(dir.file("old.log"), "o1\no2\n");
  SUBCASE("end") {
    Harness h(options(dir.path() + "/*.log", false));
    CHECK(h.pump() == 0);
    append(dir.file("old.log"), "o3\n");
    append(dir.file("new.log"), "n1\nn2\n");  // appears after the first poll: read from 0
    h.pump();
    CHECK(h.sink.texts_of(dir.file("old.log")) == std::vector<std::string>{"o3"});
    CHECK(h.sink.texts_of(dir.file("new.log")) == std::vector<std::string>{"n1", "n2"});
    CHECK(h.sink.lines[0].offset == 6);
  }
  SUBCASE("beginning") {
    Harness h(options(dir.path() + "/*.log", true));
    CHECK(h.pump() == 2);
    CHECK(h.sink.texts() == std::vector<std::string>{"o1", "o2"});
    CHECK(h.sink.lines[1].offset == 3);
    CHECK(h.sink.lines[0].path == dir.file("old.log"));
    CHECK(h.tailer.stats().files_opened == 1);
    CHECK(h.tailer.stats().lines == 2);
    CHECK(h.tailer.stats().bytes == 6);
  }
  SUBCASE("an empty file at the first poll is read from 0 once written") {
    Harness h(options(dir.path() + "/*.log", false));
    append(dir.file("empty.log"), "");
    h.pump();
    append(dir.file("empty.log"), "e1\n");
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"e1"});
  }
}

TEST_CASE("tailer: globs with ** and exclude") {
  TempDir dir;
  const std::string r = dir.path();
  std::filesystem::create_directories(r + "/x/y");
  std::filesystem::create_directories(r + "/x/skip");
  append(r + "/a.log", "a\n");
  append(r + "/x/b.log", "b\n");
  append(r + "/x/y/c.log", "c\n");
  append(r + "/x/y/d.txt", "d\n");
  append(r + "/x/skip/e.log", "e\n");
  auto files_read = [](Harness& h) {
    h.pump();
    std::set<std::string> out;
    for (const auto& l : h.sink.lines) out.insert(l.text);
    return out;
  };
  SUBCASE("** matches any number of directories, exclude removes") {
    fl::TailerOptions o = options(r + "/**/*.log");
    o.exclude = {r + "/**/skip/*"};
    Harness h(o);
    CHECK(files_read(h) == std::set<std::string>{"a", "b", "c"});
  }
  SUBCASE("trailing ** is every file below") {
    Harness h(options(r + "/x/**"));
    CHECK(files_read(h) == std::set<std::string>{"b", "c", "d", "e"});
  }
  SUBCASE("* ? and [...] per segment") {
    fl::TailerOptions o = options(r + "/x/*/[cd].???");
    o.include.push_back(r + "/?.log");
    Harness h(o);
    CHECK(files_read(h) == std::set<std::string>{"a", "c", "d"});
  }
  SUBCASE("two globs matching one file read it once") {
    fl::TailerOptions o = options(r + "/*.log");
    o.include.push_back(r + "/a.*");
    Harness h(o);
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"a"});
  }
}

TEST_CASE("tailer: a symlink is followed and reported by its own path") {
  TempDir dir;
  const std::string pods = dir.path() + "/pods/ns_pod_uid/app";
  std::filesystem::create_directories(pods);
  std::filesystem::create_directories(dir.path() + "/containers");
  append(pods + "/0.log", "p1\np2\n");
  const std::string link = dir.path() + "/containers/pod_ns_app-123.log";
  std::filesystem::create_symlink(pods + "/0.log", link);
  Harness h(options(dir.path() + "/containers/*.log"));
  h.pump();
  append(pods + "/0.log", "p3\n");
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"p1", "p2", "p3"});
  CHECK(h.sink.lines[0].path == link);
  CHECK(h.sink.sources[link]->name == "pod_ns_app-123.log");

  SUBCASE("link and target matched together: read once") {
    fl::TailerOptions o = options(dir.path() + "/containers/*.log");
    o.include.push_back(dir.path() + "/pods/**/*.log");
    Harness both(o);
    both.pump();
    CHECK(both.sink.texts() == std::vector<std::string>{"p1", "p2", "p3"});
  }
}

TEST_CASE("tailer: rename-and-create rotation") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, lines_text("old-", 0, 3));
  Harness h(options(path));
  h.pump();
  append(path, lines_text("old-", 3, 5));  // written before the rename, not read yet
  std::filesystem::rename(path, dir.file("app.log.1"));
  append(dir.file("app.log.1"), "old-5\n");  // the writer still has the old file open
  append(path, lines_text("new-", 0, 2));
  h.pump();
  CHECK(h.tailer.stats().rotations == 1);
  std::vector<std::string> old_lines;
  for (const auto& l : h.sink.lines) {
    if (l.text.rfind("old-", 0) == 0) old_lines.push_back(l.text);
  }
  CHECK(old_lines == names("old-", 0, 6));
  CHECK(h.sink.texts_of(path).size() == 8);  // both files were found at app.log
  std::vector<std::string> new_lines;
  for (const auto& l : h.sink.lines) {
    if (l.text.rfind("new-", 0) == 0) new_lines.push_back(l.text);
  }
  CHECK(new_lines == names("new-", 0, 2));
  // The old file was read to its end, finished, and released on commit.
  CHECK(h.sink.finished.size() == 1);
  CHECK(h.tailer.open_files() == 1);
  CHECK(h.tailer.stats().files_closed == 1);
  append(path, "new-2\n");
  h.pump();
  CHECK(h.sink.lines.back().text == "new-2");
  CHECK(h.sink.lines.size() == 9);
}

TEST_CASE("tailer: copy-and-truncate") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, lines_text("l", 0, 3));
  SUBCASE("the copy is matched: its unread tail is read once, the truncated file from 0") {
    Harness h(options(dir.path() + "/app.log*"));
    h.pump();
    append(path, "l3\nl4\n");  // not read before the copy
    std::filesystem::copy_file(path, dir.file("app.log.1"));
    truncate_to(path, 0);
    append(path, "n0\n");
    h.pump();
    h.pump();
    CHECK(h.tailer.stats().truncations == 1);
    CHECK(h.sink.texts_of(dir.file("app.log.1")) == std::vector<std::string>{"l3", "l4"});
    CHECK(h.sink.texts_of(path) == std::vector<std::string>{"l0", "l1", "l2", "n0"});
    for (const auto& l : h.sink.lines) {
      if (l.text == "n0") CHECK(l.offset == 0);
    }
    // Truncation: the pipeline was told (flush) and reset before the restart at 0.
    CHECK(h.sink.finished == std::vector<std::string>{path});
  }
  SUBCASE("the copy is not matched") {
    Harness h(options(path));
    h.pump();
    std::filesystem::copy_file(path, dir.file("app.log.1"));
    truncate_to(path, 0);
    append(path, "n0\nn1\n");
    h.pump();
    CHECK(h.tailer.stats().truncations == 1);
    CHECK(h.sink.texts() == std::vector<std::string>{"l0", "l1", "l2", "n0", "n1"});
  }
  SUBCASE("the copy is seen before the truncation") {
    Harness h(options(dir.path() + "/app.log*"));
    h.pump();
    std::filesystem::copy_file(path, dir.file("app.log.1"));
    h.pump();  // a duplicate of app.log: not read
    CHECK(h.sink.lines.size() == 3);
    truncate_to(path, 0);
    append(path, "n0\n");
    h.pump();
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"l0", "l1", "l2", "n0"});
  }
}

TEST_CASE("tailer: truncation in place, then regrowth") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "first-0\nfirst-1\n");
  Harness h(options(path));
  h.pump();
  SUBCASE("regrown past the old offset between two polls") {
    truncate_to(path, 0);
    append(path, "second-0\nsecond-1\nsecond-2\n");
    h.pump();
    CHECK(h.tailer.stats().truncations == 1);
    CHECK(h.sink.texts() ==
          std::vector<std::string>{"first-0", "first-1", "second-0", "second-1", "second-2"});
    CHECK(h.sink.lines[2].offset == 0);
  }
  SUBCASE("truncated, seen empty, then regrown") {
    truncate_to(path, 0);
    h.pump();
    CHECK(h.tailer.stats().truncations == 1);
    append(path, "x\n");
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"first-0", "first-1", "x"});
    CHECK(h.tailer.stats().truncations == 1);
  }
}

TEST_CASE("tailer: a file deleted while open is read to its end, then released") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "a\n");
  Harness h(options(path));
  h.pump();
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  std::filesystem::remove(path);
  REQUIRE(::write(fd, "b\nc", 3) == 3);  // the writer keeps writing to the deleted file
  ::close(fd);
  h.tailer.poll_files();
  h.read();
  CHECK(h.sink.texts() == std::vector<std::string>{"a", "b"});
  CHECK(h.sink.finished.empty());  // its last line has no newline: waits for force_flush_period
  h.tailer.commit(h.sink);
  CHECK(h.tailer.open_files() == 1);
  h.advance(500ms);
  h.read();
  CHECK(h.sink.texts() == std::vector<std::string>{"a", "b", "c"});
  CHECK(h.sink.finished == std::vector<std::string>{path});
  CHECK(h.tailer.open_files() == 1);  // not committed yet: rewind could still need it
  h.tailer.commit(h.sink);
  CHECK(h.tailer.open_files() == 0);
  CHECK(h.tailer.stats().files_closed == 1);
  CHECK(h.tailer.stats().rotations == 0);
}

TEST_CASE("tailer: inode reuse and the fingerprint prefix rule") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "alpha-0\nalpha-1\n");
  Harness h(options(path, false));
  h.pump();
  append(path, "alpha-2\n");
  h.pump();
  std::filesystem::remove(path);
  h.pump();  // gone: finished and released
  CHECK(h.tailer.open_files() == 0);
  SUBCASE("different content at the same path is a new file, read from 0") {
    append(path, "beta-0\n");
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"alpha-2", "beta-0"});
  }
  SUBCASE("content starting like the released file is that file (the Collector's rule)") {
    append(path, "alpha-0\nalpha-1\nalpha-2\nalpha-3\n");
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"alpha-2", "alpha-3"});
  }
}

TEST_CASE("tailer: a file growing one byte at a time gives each line once, whole") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "");
  fl::TailerOptions o = options(path);
  o.read_buffer_size = 8;
  o.force_flush_period = 1h;  // never here: the clock does not move
  Harness h(o);
  h.pump();
  const std::string text = "short\n\nsomewhat longer line\nx\n" + lines_text("line-", 0, 20);
  for (char c : text) {
    append(path, std::string(1, c));
    h.pump();
  }
  std::vector<std::string> want = {"short", "", "somewhat longer line", "x"};
  for (auto& n : names("line-", 0, 20)) want.push_back(n);
  CHECK(h.sink.texts() == want);
  CHECK(h.tailer.stats().bytes == text.size());
}

TEST_CASE("tailer: max_log_size") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  fl::TailerOptions o = options(path);
  o.max_log_size = 16;
  const std::string exact(16, 'e');
  const std::string over(17, 'o');
  SUBCASE("exactly max_log_size is whole, one over is cut") {
    append(path, exact + "\n" + over + "\n" + exact + "\r\n" + "next\n");
    Harness h(o);
    h.pump();
    REQUIRE(h.sink.lines.size() == 4);
    CHECK(h.sink.lines[0].text == exact);
    CHECK(!h.sink.lines[0].truncated);
    CHECK(h.sink.lines[1].text == std::string(16, 'o'));
    CHECK(h.sink.lines[1].truncated);
    CHECK(h.sink.lines[2].text == exact);
    CHECK(!h.sink.lines[2].truncated);
    CHECK(h.sink.lines[3].text == "next");
    CHECK(h.sink.lines[3].offset == 17 + 18 + 18);
    CHECK(h.tailer.stats().truncated_lines == 1);
    CHECK(h.tailer.stats().skipped_bytes == 1);
  }
  SUBCASE("a long line across many small reads, its end arriving later") {
    o.read_buffer_size = 8;
    Harness h(o);
    append(path, "a\n" + std::string(1000, 'x'));
    h.pump();
    append(path, std::string(500, 'y'));
    h.pump();
    append(path, "yyy\nb\n");
    h.pump();
    REQUIRE(h.sink.lines.size() == 3);
    CHECK(h.sink.lines[1].text == std::string(16, 'x'));
    CHECK(h.sink.lines[1].truncated);
    CHECK(h.sink.lines[1].offset == 2);
    CHECK(h.sink.lines[2].text == "b");
    CHECK(h.sink.lines[2].offset == 2 + 1503 + 1);
    CHECK(h.tailer.stats().skipped_bytes == 1503 - 16);
  }
  SUBCASE("a line of exactly max_log_size arriving in pieces is not cut") {
    o.read_buffer_size = 4;
    Harness h(o);
    append(path, exact.substr(0, 10));
    h.pump();
    append(path, exact.substr(10));
    h.pump();
    append(path, "\r");
    h.pump();
    append(path, "\n");
    h.pump();
    REQUIRE(h.sink.lines.size() == 1);
    CHECK(h.sink.lines[0].text == exact);
    CHECK(!h.sink.lines[0].truncated);
  }
  SUBCASE("a cut never splits a UTF-8 character") {
    append(path, std::string(15, 'a') + "\xC3\xA9" + "tail\n");
    Harness h(o);
    h.pump();
    REQUIRE(h.sink.lines.size() == 1);
    CHECK(h.sink.lines[0].text == std::string(15, 'a'));
    CHECK(h.sink.lines[0].replaced == 0);
  }
}

TEST_CASE("tailer: tiny reads and tight budgets cut the same lines") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  std::string text;
  std::vector<std::string> want;
  for (int i = 0; i < 300; ++i) {
    // Multibyte characters land on every possible chunk boundary.
    std::string line = "l" + std::to_string(i) + " caf\xC3\xA9 \xE2\x82\xAC" +
                       std::string(static_cast<std::size_t>(i % 13), '.');
    want.push_back(line);
    text += line + (i % 5 == 0 ? "\r\n" : "\n");
  }
  append(path, text);
  for (std::size_t rbs : {1, 5, 7, 64, 4096}) {
    CAPTURE(rbs);
    fl::TailerOptions o = options(path);
    o.read_buffer_size = rbs;
    Harness h(o);
    h.tailer.poll_files();
    for (int i = 0; i < 2000 && h.sink.lines.size() < want.size(); ++i) {
      h.read(3, 50);
      if (i % 7 == 0) h.tailer.commit(h.sink);
    }
    CHECK(h.sink.texts() == want);
    CHECK(h.tailer.stats().invalid_utf8 == 0);
  }
}

TEST_CASE("tailer: multiline records across tiny reads") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  std::string text;
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    std::string record = "2024 event " + std::to_string(i);
    for (int k = 0; k < i % 4; ++k) record += "\n\tat frame" + std::to_string(k);
    want.push_back(record);
    text += record + "\n";
  }
  append(path, text);
  fl::TailerOptions o = options(path);
  o.read_buffer_size = 6;
  o.line_start_pattern = "^2024 ";
  Harness h(o);
  h.tailer.poll_files();
  for (int i = 0; i < 1000; ++i) h.read(2);
  h.advance(1s);
  h.read();
  CHECK(h.sink.texts() == want);
}

TEST_CASE("tailer: a last line without newline is flushed after force_flush_period") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "a\nb");
  Harness h(options(path));
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"a"});
  CHECK(h.sink.sources[path]->committed_offset == 2);
  h.advance(499ms);
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"a"});
  h.advance(1ms);
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"a", "b"});
  CHECK(h.sink.lines[1].offset == 2);
  CHECK(h.sink.sources[path]->committed_offset == 3);  // flushed bytes are consumed
  append(path, "c\n");
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"a", "b", "c"});

  SUBCASE("growth restarts the period") {
    append(path, "d");
    h.pump();
    h.advance(400ms);
    append(path, "e");
    h.pump();
    h.advance(400ms);
    h.pump();
    CHECK(h.sink.texts().back() == "c");
    h.advance(100ms);
    h.pump();
    CHECK(h.sink.texts().back() == "de");
  }
  SUBCASE("period 0 never flushes a live file") {
    fl::TailerOptions o = options(dir.file("other.log"));
    o.force_flush_period = 0ns;
    append(dir.file("other.log"), "x");
    Harness z(o);
    z.pump();
    z.advance(1h);
    z.pump();
    CHECK(z.sink.lines.empty());
  }
}

TEST_CASE("tailer: CRLF") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "a\r\nb\r\n\r\nc\rd\n");
  Harness h(options(path));
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"a", "b", "", "c\rd"});
}

TEST_CASE("tailer: encoding") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "ok\nbad \xFF\xFE end\nstill \xC3\xA9 ok\ncut \xE2\x82\n");
  SUBCASE("utf-8 replaces invalid bytes, valid lines are not copied") {
    Harness h(options(path));
    h.pump();
    REQUIRE(h.sink.lines.size() == 4);
    CHECK(h.sink.lines[1].text == "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
    CHECK(h.sink.lines[1].replaced == 2);
    CHECK(h.sink.lines[2].text == "still \xC3\xA9 ok");
    CHECK(h.sink.lines[2].replaced == 0);
    CHECK(h.sink.lines[3].text == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(h.tailer.stats().invalid_utf8 == 4);
    // Zero-copy: the valid lines sit in the read buffer exactly as far apart as in the file.
    CHECK(h.sink.lines[2].data - h.sink.lines[0].data ==
          static_cast<std::ptrdiff_t>(h.sink.lines[2].offset - h.sink.lines[0].offset));
  }
  SUBCASE("nop passes bytes as they are") {
    fl::TailerOptions o = options(path);
    o.encoding = "nop";
    Harness h(o);
    h.pump();
    REQUIRE(h.sink.lines.size() == 4);
    CHECK(h.sink.lines[1].text == "bad \xFF\xFE end");
    CHECK(h.tailer.stats().invalid_utf8 == 0);
  }
}

TEST_CASE("tailer: multiline") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  const std::string trace =
      "2024-05-01 10:00:00 ERROR request failed\n"
      "java.lang.IllegalStateException: boom\n"
      "\tat com.shop.Orders.place(Orders.java:42)\n"
      "\tat com.shop.Api.handle(Api.java:7)\n"
      "Caused by: java.io.IOException: closed\n"
      "\t... 2 more\n";
  SUBCASE("line_start_pattern: a Java stack trace") {
    const std::string before = "continuation before any start\n";
    append(path, before + trace + "2024-05-01 10:00:01 INFO ok\n");
    fl::TailerOptions o = options(path);
    o.line_start_pattern = "^\\d{4}-\\d{2}-\\d{2} ";
    Harness h(o);
    h.pump();
    REQUIRE(h.sink.lines.size() == 2);
    CHECK(h.sink.lines[0].text == "continuation before any start");
    CHECK(h.sink.lines[1].text == trace.substr(0, trace.size() - 1));
    CHECK(h.sink.lines[1].offset == before.size());
    // The last record may go on: it is pending and holds the commit at its first byte.
    fl::FileSource* src = h.sink.sources[path];
    CHECK(src->committed_offset == before.size() + trace.size());
    CHECK(src->read_offset > src->committed_offset);
    h.advance(500ms);
    h.pump();
    REQUIRE(h.sink.lines.size() == 3);
    CHECK(h.sink.lines[2].text == "2024-05-01 10:00:01 INFO ok");
    CHECK(src->committed_offset == src->read_offset);
  }
  SUBCASE("line_end_pattern") {
    append(path, "a\nb;\nc\nd\ne;\nf");
    fl::TailerOptions o = options(path);
    o.line_end_pattern = ";$";
    Harness h(o);
    h.pump();
    CHECK(h.sink.texts() == std::vector<std::string>{"a\nb;", "c\nd\ne;"});
    CHECK(h.sink.lines[1].offset == 5);
    h.advance(1s);
    h.pump();
    CHECK(h.sink.texts().back() == "f");
  }
  SUBCASE("a record is bounded by max_log_size") {
    append(path, "S 1\n" + lines_text("more-", 0, 10) + "S 2\n" + "S 3\n");
    fl::TailerOptions o = options(path);
    o.line_start_pattern = "^S ";
    o.max_log_size = 20;
    Harness h(o);
    h.pump();
    REQUIRE(h.sink.lines.size() == 2);
    CHECK(h.sink.lines[0].text == "S 1\nmore-0\nmore-1\nmo");
    CHECK(h.sink.lines[0].text.size() == 20);
    CHECK(h.sink.lines[0].truncated);
    CHECK(h.sink.lines[1].text == "S 2");
    CHECK(h.tailer.stats().truncated_lines == 1);
  }
  SUBCASE("rewind re-reads a pending record from its first line") {
    append(path, trace);
    fl::TailerOptions o = options(path);
    o.line_start_pattern = "^\\d{4}-";
    Harness h(o);
    h.pump();
    CHECK(h.sink.lines.empty());
    h.tailer.rewind(h.sink);
    h.advance(1s);
    h.pump();
    REQUIRE(h.sink.lines.size() == 1);
    CHECK(h.sink.lines[0].text == trace.substr(0, trace.size() - 1));
  }
}

TEST_CASE("tailer: commit and rewind") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, lines_text("l", 0, 5));
  Harness h(options(path));
  h.tailer.poll_files();
  CHECK(h.read(3) == 3);
  h.tailer.commit(h.sink);
  fl::FileSource* src = h.sink.sources[path];
  CHECK(src->committed_offset == 9);
  CHECK(h.read() == 2);
  CHECK(src->read_offset == 15);
  h.sink.resets.clear();
  h.tailer.rewind(h.sink);
  CHECK(h.sink.resets == std::vector<std::string>{path});
  CHECK(src->read_offset == 9);
  CHECK(h.read() == 2);
  CHECK(h.sink.texts() == std::vector<std::string>{"l0", "l1", "l2", "l3", "l4", "l3", "l4"});
  h.tailer.commit(h.sink);
  h.tailer.rewind(h.sink);
  CHECK(h.read() == 0);

  SUBCASE("max_bytes stops right after the line that reaches it") {
    append(path, "aaaa\nbbbb\ncccc\n");
    CHECK(h.read() == 0);  // at its end: looked at again after the next poll
    h.tailer.poll_files();
    CHECK(h.read(0, 6) == 2);  // "aaaa\n" is 5 bytes, the second line passes 6
    CHECK(h.read(0, 5) == 1);
    CHECK(h.sink.texts().back() == "cccc");
  }
}

TEST_CASE("tailer: held_since holds the checkpoint back") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, lines_text("l", 0, 4));
  Harness h(options(path));
  // The receiver's operators hold l1 (e.g. an unfinished recombine) from when it sees it on.
  h.sink.on_line_hook = [](fl::FileSource& f, const fl::Line& line) {
    if (line.text == "l1") f.held_since = line.offset;
  };
  h.pump();
  fl::FileSource* src = h.sink.sources[path];
  CHECK(src->committed_offset == 3);
  CHECK(h.tailer.checkpoint().at(0).offset == 3);
  h.tailer.rewind(h.sink);
  CHECK(!src->held_since);
  h.sink.on_line_hook = nullptr;
  h.read();
  CHECK(h.sink.texts() == std::vector<std::string>{"l0", "l1", "l2", "l3", "l1", "l2", "l3"});
  h.tailer.commit(h.sink);
  CHECK(src->committed_offset == 12);
}

TEST_CASE("tailer: a released file is closed only once committed") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, lines_text("l", 0, 3));
  Harness h(options(path));
  h.tailer.poll_files();
  h.read(1);
  h.tailer.commit(h.sink);
  std::filesystem::remove(path);
  h.tailer.poll_files();
  h.read();
  CHECK(h.sink.finished.size() == 1);
  h.tailer.rewind(h.sink);  // refused: read again through the descriptor of the deleted file
  CHECK(h.tailer.open_files() == 1);
  h.read();
  CHECK(h.sink.texts() == std::vector<std::string>{"l0", "l1", "l2", "l1", "l2"});
  CHECK(h.sink.finished.size() == 2);
  h.tailer.commit(h.sink);
  CHECK(h.tailer.open_files() == 0);
}

TEST_CASE("tailer: checkpoint and restart resume every file exactly") {
  TempDir dir;
  append(dir.file("a.log"), lines_text("a", 0, 100));
  append(dir.file("b.log"), lines_text("b", 0, 10));
  append(dir.file("c.log"), "c0\n");
  std::vector<std::string> committed;
  std::string saved;
  {
    Harness first(options(dir.path() + "/*.log", true));
    first.pump();
    append(dir.file("a.log"), lines_text("a", 100, 150));
    first.tailer.poll_files();
    first.read(30);
    first.tailer.commit(first.sink);
    committed = first.sink.texts();
    REQUIRE(committed.size() == 141);
    first.read(5);  // never committed: read again after the restart
    CHECK(first.sink.lines.size() == 146);
    saved = fl::encode_checkpoint(first.tailer.checkpoint());
  }
  append(dir.file("a.log"), lines_text("a", 150, 160));
  std::filesystem::remove(dir.file("c.log"));
  append(dir.file("c.log"), "different content\n");  // the checkpoint's fingerprint no longer matches
  std::vector<fl::FileCheckpoint> restored;
  std::string error;
  REQUIRE(fl::decode_checkpoint(saved, restored, error));
  CHECK(restored.size() == 3);
  Harness second(options(dir.path() + "/*.log", false));  // start_at end: only the checkpoint says where
  second.tailer.restore(restored);
  second.pump();
  CHECK(second.sink.texts() == names("a", 130, 160));
  std::multiset<std::string> all(committed.begin(), committed.end());
  for (auto& t : second.sink.texts()) all.insert(t);
  std::multiset<std::string> want;
  for (auto& n : names("a", 0, 160)) want.insert(n);
  for (auto& n : names("b", 0, 10)) want.insert(n);
  want.insert("c0");
  CHECK(all == want);
  // c.log is a new file now; at the first poll with start_at end it starts at its end.
  append(dir.file("c.log"), "c-new\n");
  second.pump();
  CHECK(second.sink.texts().back() == "c-new");
  CHECK(second.sink.texts_of(dir.file("c.log")) == std::vector<std::string>{"c-new"});

  SUBCASE("with start_at beginning the replaced file is read whole") {
    Harness third(options(dir.path() + "/c.log", true));
    third.tailer.restore(restored);
    third.pump();
    CHECK(third.sink.texts() == std::vector<std::string>{"different content", "c-new"});
  }
}

TEST_CASE("tailer: a restored file shorter than its offset starts again at 0") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  append(path, "l0\n");
  Harness h(options(path, false));
  h.tailer.restore({{path, "l0\n", 100}});
  h.pump();
  CHECK(h.sink.texts() == std::vector<std::string>{"l0"});
}

TEST_CASE("tailer: 1,000 files matched by one glob") {
  TempDir dir;
  constexpr int kFiles = 1000;
  for (int i = 0; i < kFiles; ++i) {
    append(dir.file("f" + std::to_string(i) + ".log"), lines_text("file" + std::to_string(i) + "-", 0, 3));
  }
  auto run = [&](std::size_t limit) {
    fl::TailerOptions o = options(dir.path() + "/*.log");
    o.max_concurrent_files = limit;
    o.read_buffer_size = 4096;
    Harness h(o);
    for (int round = 0; round < 1000 && h.sink.lines.size() < 3 * kFiles; ++round) {
      h.pump();
      CHECK(h.tailer.open_files() <= limit);
    }
    std::set<std::string> unique;
    for (auto& l : h.sink.lines) unique.insert(l.text);
    CHECK(h.sink.lines.size() == 3 * kFiles);
    CHECK(unique.size() == 3 * kFiles);
    // Lines appended later to every file still arrive, once.
    for (int i = 0; i < kFiles; i += 97) append(dir.file("f" + std::to_string(i) + ".log"), "late\n");
    auto late = [&] {
      std::size_t n = 0;
      for (auto& l : h.sink.lines) n += l.text == "late" ? 1 : 0;
      return n;
    };
    for (int round = 0; round < 200 && late() < (kFiles + 96) / 97; ++round) h.pump();
    for (int round = 0; round < 3; ++round) h.pump();
    CHECK(late() == (kFiles + 96) / 97);
    return h.tailer.stats();
  };
  SUBCASE("default max_concurrent_files") {
    const fl::TailerStats s = run(1024);
    CHECK(s.files_skipped == 0);
  }
  SUBCASE("max_concurrent_files smaller than the file count") {
    const fl::TailerStats s = run(64);
    CHECK(s.files_skipped > 0);
  }
}

TEST_CASE("tailer: max_concurrent_files 1 still reads every file") {
  TempDir dir;
  for (int i = 0; i < 5; ++i)
    append(dir.file("f" + std::to_string(i) + ".log"), "x" + std::to_string(i) + "\n");
  fl::TailerOptions o = options(dir.path() + "/*.log", false);
  o.max_concurrent_files = 1;
  Harness h(o);
  h.pump();  // first poll: start_at end, even for the files that wait
  for (int i = 0; i < 5; ++i)
    append(dir.file("f" + std::to_string(i) + ".log"), "y" + std::to_string(i) + "\n");
  for (int round = 0; round < 20; ++round) {
    h.pump();
    CHECK(h.tailer.open_files() <= 1);
  }
  std::multiset<std::string> got;
  for (auto& t : h.sink.texts()) got.insert(t);
  CHECK(got == std::multiset<std::string>{"y0", "y1", "y2", "y3", "y4"});
}

TEST_CASE("tailer: running out of descriptors defers files to a later poll") {
  TempDir dir;
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i)
    append(dir.file("f" + std::to_string(i) + ".log"), "x" + std::to_string(i) + "\n");
  Harness h(options(dir.path() + "/*.log"));
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::size_t in_use = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++in_use;
  struct rlimit low = saved;
  low.rlim_cur = in_use + 10;  // room for about 10 of the 40 files (and the glob's directory)
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  h.pump();
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(h.tailer.stats().open_errors >= 1);
  CHECK(h.sink.lines.size() < kFiles);
  h.pump();
  std::set<std::string> got;
  for (auto& t : h.sink.texts()) got.insert(t);
  CHECK(got.size() == kFiles);
  CHECK(h.sink.lines.size() == kFiles);
}

TEST_CASE("tailer: files appearing and disappearing") {
  TempDir dir;
  Harness h(options(dir.path() + "/*.log", false));
  h.pump();
  std::multiset<std::string> want;
  std::set<int> alive;
  for (int round = 0; round < 30; ++round) {
    const std::string name = dir.file("r" + std::to_string(round) + ".log");
    append(name, "start-" + std::to_string(round) + "\n");
    want.insert("start-" + std::to_string(round));
    alive.insert(round);
    for (int a : alive) {
      append(dir.file("r" + std::to_string(a) + ".log"),
             "at-" + std::to_string(round) + "-" + std::to_string(a) + "\n");
      want.insert("at-" + std::to_string(round) + "-" + std::to_string(a));
    }
    if (round % 3 == 2) {  // delete the oldest, written just before
      const int victim = *alive.begin();
      std::filesystem::remove(dir.file("r" + std::to_string(victim) + ".log"));
      alive.erase(victim);
    }
    h.pump();
  }
  h.pump();
  std::multiset<std::string> got;
  for (auto& t : h.sink.texts()) got.insert(t);
  CHECK(got == want);
  CHECK(h.tailer.open_files() == alive.size());
}

TEST_CASE("tailer: errors are counted, never thrown") {
  TempDir dir;
  std::filesystem::create_symlink(dir.file("nowhere.log"), dir.file("dangling.log"));
  append(dir.file("ok.log"), "ok\n");
  append(dir.file("secret.log"), "secret\n");
  ::chmod(dir.file("secret.log").c_str(), 0);
  Harness h(options(dir.path() + "/*.log"));
  h.pump();
  h.pump();
  CHECK(h.sink.texts_of(dir.file("ok.log")) == std::vector<std::string>{"ok"});
  CHECK(h.tailer.stats().open_errors >= 2);  // the dangling link, each poll
  if (::geteuid() != 0) CHECK(h.sink.texts_of(dir.file("secret.log")).empty());
}

TEST_CASE("tailer: a writer thread appends while the tailer reads") {
  TempDir dir;
  const std::string path = dir.file("app.log");
  constexpr int kLines = 20000;
  append(path, "");
  fl::TailerOptions o = options(path, false);
  o.read_buffer_size = 1024;  // many chunks, many partial lines
  Harness h(o);
  h.pump();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    for (int i = 0; i < kLines; ++i) {
      if (i == kLines / 2) {  // rename-and-create in the middle
        ::close(fd);
        std::filesystem::rename(path, dir.file("app.log.1"));
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      }
      const std::string line =
          "line-" + std::to_string(i) + " " + std::string(static_cast<std::size_t>(i % 50), 'x') + "\n";
      if (i % 7 == 0) {  // a line in two writes: the reader may see half of it
        const std::size_t half = line.size() / 2;
        (void)!::write(fd, line.data(), half);
        std::this_thread::yield();
        (void)!::write(fd, line.data() + half, line.size() - half);
      } else {
        (void)!::write(fd, line.data(), line.size());
      }
    }
    ::close(fd);
    done = true;
  });
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    const bool finished_writing = done.load();
    h.tailer.poll_files();
    h.read(500);
    h.tailer.commit(h.sink);
    if (finished_writing && h.sink.lines.size() >= kLines) break;
  }
  writer.join();
  for (int i = 0; i < 3; ++i) h.pump();
  REQUIRE(h.sink.lines.size() == kLines);
  for (int i = 0; i < kLines; ++i) {
    const std::string want =
        "line-" + std::to_string(i) + " " + std::string(static_cast<std::size_t>(i % 50), 'x');
    if (h.sink.lines[static_cast<std::size_t>(i)].text != want) {
      FAIL("line " << i << " is \"" << h.sink.lines[static_cast<std::size_t>(i)].text << "\"");
    }
  }
  // A poll that falls between the rename and the create sees the path gone (the old file read to
  // its end as deleted) and then a new file: no rotation is counted then. Never more than one.
  CHECK(h.tailer.stats().rotations <= 1);
}

}  // namespace vigil::testing
