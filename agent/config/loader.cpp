#include "agent/config/loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace vigil::config {
namespace {

// yaml-cpp already refuses parse nesting beyond 2000 levels, but an alias that refers to its own
// anchor (`a: &x [*x]`) builds a cyclic node graph, and nested aliases can expand exponentially
// ("billion laughs"). Our copy into Value is therefore bounded in depth and in node count.
constexpr int kMaxDepth = 1000;
constexpr std::size_t kMaxNodes = 100'000;  // about 20 MB of Value; real configs hold hundreds

Location make_location(const std::string& file, const YAML::Mark& mark) {
  Location loc;
  loc.file = file;
  if (!mark.is_null() && mark.line >= 0) {
    loc.line = mark.line + 1;
    loc.column = mark.column + 1;
  }
  return loc;
}

class Converter {
 public:
  Converter(const std::string& file, Errors& errors) : file_(file), errors_(errors) {}

  // Returns false after an unrecoverable problem (too deep, too many nodes); the partial tree is
  // then discarded by the caller.
  bool convert(const YAML::Node& node, Value& out, const Location& fallback, int depth) {
    if (++nodes_ > kMaxNodes) {
      error(fallback, "the config expands to more than " + std::to_string(kMaxNodes) +
                          " nodes (nested aliases?)");
      return false;
    }
    if (depth > kMaxDepth) {
      error(fallback, "nesting is deeper than " + std::to_string(kMaxDepth) +
                          " levels (an alias that refers to itself?)");
      return false;
    }
    out.location = make_location(file_, node.Mark());
    if (out.location.line == 0) out.location = fallback;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = Value::Kind::kNull;
        return true;
      case YAML::NodeType::Scalar: {
        out.kind = Value::Kind::kScalar;
        out.scalar = node.Scalar();
        // yaml-cpp tags plain scalars "?" and quoted or block scalars "!"; an explicit tag such
        // as !!str also makes the text a string. Only plain scalars may become bool or number.
        const std::string& tag = node.Tag();
        out.quoted = !tag.empty() && tag != "?";
        return true;
      }
      case YAML::NodeType::Sequence:
        out.kind = Value::Kind::kSeq;
        out.items.reserve(node.size());
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node item = *it;
          Value& v = out.items.emplace_back();
          if (!convert(item, v, out.location, depth + 1)) return false;
        }
        return true;
      case YAML::NodeType::Map:
        return convert_map(node, out, depth);
    }
    return true;
  }

 private:
  bool convert_map(const YAML::Node& node, Value& out, int depth) {
    out.kind = Value::Kind::kMap;
    out.entries.reserve(node.size());
    // yaml-cpp keeps both entries of a duplicated key; the Collector (and YAML) reject them.
    std::unordered_map<std::string, int> first_line;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies, not references: yaml-cpp's iterator hands out a temporary pair.
      const YAML::Node key = it->first;
      const YAML::Node val = it->second;
      Location key_loc = make_location(file_, key.Mark());
      if (key_loc.line == 0) key_loc = out.location;
      if (!key.IsScalar()) {
        error(key_loc, std::string("map keys must be scalars, got a ") +
                           (key.IsMap() ? "map" : key.IsSequence() ? "sequence" : "null"));
        continue;
      }
      const std::string& name = key.Scalar();
      auto [pos, inserted] = first_line.emplace(name, key_loc.line);
      if (!inserted) {
        error(key_loc, "duplicate key '" + name + "' (first at line " + std::to_string(pos->second) + ")");
        continue;
      }
      Value::Entry& entry = out.entries.emplace_back();
      entry.key = name;
      entry.key_location = key_loc;
      if (!convert(val, entry.value, key_loc, depth + 1)) return false;
      // yaml-cpp marks an empty value (`http:`) at the next token, often on a later line; the
      // key is where the user wrote it.
      if (entry.value.is_null() && entry.value.location.line != key_loc.line) {
        entry.value.location = key_loc;
      }
    }
    return true;
  }

  void error(const Location& loc, std::string message) {
    errors_.push_back(Error{loc, {}, std::move(message)});
  }

  const std::string& file_;
  Errors& errors_;
  std::size_t nodes_ = 0;
};

// yaml-cpp 0.7 (Debian 12's) has a parser bug: on some malformed input ("," or "!,)" alone) the
// parser reports a new document without consuming a token, again and again, so YAML::LoadAll
// never returns and allocates a null document per turn until memory runs out (found by
// tests/fuzz/fuzz_config; yaml-cpp issue 1040, fixed upstream after 0.8). This pass runs the same
// parser over events only, and throws where a document starts where the previous one did.
class StallCheck : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark start;
};

void check_parser_progress(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  StallCheck handler;
  int previous = -1;
  while (parser.HandleNextDocument(handler)) {
    if (handler.start.pos == previous) throw YAML::ParserException(handler.start, "unexpected token");
    previous = handler.start.pos;
  }
}

bool valid_env_name(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Expands one scalar. Returns false (with an error) on a malformed reference; the scalar is then
// left as written.
bool expand_scalar(Value& v, const EnvLookup& env, Errors& errors) {
  const std::string& in = v.scalar;
  if (in.find('$') == std::string::npos) return true;
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c != '$' || i + 1 >= in.size()) {
      out += c;
      ++i;
      continue;
    }
    const char next = in[i + 1];
    if (next == '$') {  // $$ is a literal $
      out += '$';
      i += 2;
      continue;
    }
    if (next != '{') {  // a lone $ stays as written
      out += c;
      ++i;
      continue;
    }
    const std::size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      errors.push_back(Error{v.location, {},
                             "unterminated '${' in '" + in + "' (write '$$' for a literal '$')"});
      return false;
    }
    std::string_view ref(in.data() + i + 2, close - i - 2);
    std::string_view whole(in.data() + i, close - i + 1);
    std::optional<std::string_view> def;
    if (const std::size_t d = ref.find(":-"); d != std::string_view::npos) {
      def = ref.substr(d + 2);
      ref = ref.substr(0, d);
    }
    if (const std::size_t colon = ref.find(':'); colon != std::string_view::npos) {
      const std::string_view scheme = ref.substr(0, colon);
      if (scheme != "env") {
        errors.push_back(Error{v.location, {},
                               "unsupported reference '" + std::string(whole) + "': only ${env:VAR} is supported"});
        return false;
      }
      ref = ref.substr(colon + 1);
    }
    if (!valid_env_name(ref)) {
      errors.push_back(Error{v.location, {},
                             "invalid environment variable name '" + std::string(ref) + "' in '" +
                                 std::string(whole) + "'"});
      return false;
    }
    std::optional<std::string> val = env ? env(ref) : std::nullopt;
    if (val) {
      out += *val;
    } else if (def) {
      out += *def;
    }
    i = close + 1;
  }
  // Not recursive: the expanded text is final, even if it contains "${".
  v.scalar = std::move(out);
  return true;
}

void expand_node(Value& v, const EnvLookup& env, Errors& errors) {
  switch (v.kind) {
    case Value::Kind::kScalar:
      expand_scalar(v, env, errors);
      break;
    case Value::Kind::kMap:
      for (Value::Entry& e : v.entries) expand_node(e.value, env, errors);
      break;
    case Value::Kind::kSeq:
      for (Value& item : v.items) expand_node(item, env, errors);
      break;
    case Value::Kind::kNull:
      break;
  }
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Value parse_yaml(std::string_view text, const std::string& file_name, Errors& errors) {
  Value root;
  root.location = Location{file_name, 1, 1};
  std::vector<YAML::Node> docs;
  try {
    const std::string input(text);
    check_parser_progress(input);
    docs = YAML::LoadAll(input);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this case is unhelpful ("bad file").
    errors.push_back(Error{make_location(file_name, e.mark), {},
                           "invalid YAML: nesting is too deep (more than " + std::to_string(e.depth() - 1) +
                               " levels)"});
    return root;
  } catch (const YAML::Exception& e) {
    Location loc = make_location(file_name, e.mark);
    if (loc.line == 0) loc = root.location;
    errors.push_back(Error{loc, {}, "invalid YAML: " + e.msg});
    return root;
  } catch (const std::exception& e) {
    errors.push_back(Error{root.location, {}, std::string("invalid YAML: ") + e.what()});
    return root;
  }
  if (docs.empty()) return root;  // empty file or only comments: an empty config
  if (docs.size() > 1) {
    Location loc = make_location(file_name, docs[1].Mark());
    if (loc.line == 0) loc = root.location;
    errors.push_back(Error{loc, {},
                           "the file holds " + std::to_string(docs.size()) +
                               " YAML documents; a config file must hold one"});
  }
  Value out;
  bool ok = false;
  try {
    ok = Converter(file_name, errors).convert(docs[0], out, root.location, 0);
  } catch (const std::exception& e) {
    // yaml-cpp's accessors should not throw on a parsed tree; never let one escape.
    errors.push_back(Error{root.location, {}, std::string("invalid YAML: ") + e.what()});
  }
  if (!ok) return root;
  return out;
}

Value load_file(const std::string& path, Errors& errors) {
  Value empty;
  empty.location = Location{path, 0, 0};
  auto fail = [&](std::string message) {
    errors.push_back(Error{Location{path, 0, 0}, {}, std::move(message)});
    return empty;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::string("cannot read config file: ") + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(std::string("cannot read config file: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("cannot read config file: it is a directory");
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    return fail("config file is " + std::to_string(st.st_size) + " bytes; the limit is " +
                std::to_string(kMaxConfigFileBytes));
  }
  // Read with a cap even for regular files: pipes and /proc files report no useful size, and a
  // file may grow while we read it.
  std::string text;
  text.resize(S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) + 1 : 64 * 1024);
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() > kMaxConfigFileBytes) break;
      text.resize(std::min(text.size() * 2, kMaxConfigFileBytes + 1));
    }
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("cannot read config file: ") + std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > kMaxConfigFileBytes) {
    return fail("config file is more than " + std::to_string(kMaxConfigFileBytes) +
                " bytes; the limit is " + std::to_string(kMaxConfigFileBytes));
  }
  text.resize(used);
  return parse_yaml(text, path, errors);
}

void merge(Value& into, Value&& from) {
  if (into.is_map() && from.is_map()) {
    for (Value::Entry& e : from.entries) {
      Value* existing = into.find(e.key);
      if (existing == nullptr) {
        into.entries.push_back(std::move(e));
        continue;
      }
      if (existing->is_map() && e.value.is_map()) {
        merge(*existing, std::move(e.value));
      } else {
        // The later file's value (and where it was written) replaces the earlier one, as in the
        // Collector's confmap merge: lists are not concatenated.
        for (Value::Entry& dst : into.entries) {
          if (dst.key == e.key) {
            dst.key_location = std::move(e.key_location);
            dst.value = std::move(e.value);
            break;
          }
        }
      }
    }
    return;
  }
  into = std::move(from);
}

void expand_env(Value& root, const EnvLookup& env, Errors& errors) { expand_node(root, env, errors); }

Value load_files(const std::vector<std::string>& paths, const EnvLookup& env, Errors& errors) {
  Value root;
  if (paths.empty()) {
    Error e;  // aggregate init with {} trips a GCC 12 -Wmaybe-uninitialized false positive at -O3
    e.message = "no config file given";
    errors.push_back(std::move(e));
    return root;
  }
  bool have = false;
  for (const std::string& path : paths) {
    const std::size_t before = errors.size();
    Value v = load_file(path, errors);
    if (errors.size() != before) continue;  // keep going so every file's problems are reported
    // An empty file contributes nothing rather than wiping what earlier files set.
    if (v.is_null()) {
      if (!have) root = std::move(v);
      continue;
    }
    if (!have) {
      root = std::move(v);
      have = true;
    } else {
      merge(root, std::move(v));
    }
  }
  expand_env(root, env, errors);
  return root;
}

}  // namespace vigil::config
