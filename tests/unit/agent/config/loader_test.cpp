#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "agent/config/loader.hpp"

namespace fs = std::filesystem;
using namespace vigil::config;

namespace {

// A fresh directory per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("vigil_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
};

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Value parse(const std::string& text, Errors& errors) { return parse_yaml(text, "test.yaml", errors); }

std::string expand_one(const std::string& scalar, const EnvLookup& env, Errors& errors) {
  Value v = parse("k: " + scalar + "\n", errors);
  REQUIRE(errors.empty());
  expand_env(v, env, errors);
  return v.find("k")->scalar;
}

}  // namespace

TEST_CASE("Location and Error format") {
  Location loc{"a.yaml", 3, 7};
  CHECK(loc.str() == "a.yaml:3:7");
  CHECK(Error{loc, "otlp/in", "bad"}.str() == "a.yaml:3:7: otlp/in: bad");
  CHECK(Error{loc, "", "bad"}.str() == "a.yaml:3:7: bad");
  CHECK(Error{Location{"a.yaml", 0, 0}, "", "gone"}.str() == "a.yaml: gone");
  CHECK(Error{Location{}, "", "no config"}.str() == "no config");
}

TEST_CASE("parse_yaml records 1-based locations of nodes and keys") {
  Errors errors;
  Value root = parse(
      "receivers:\n"
      "  otlp:\n"
      "    protocols:\n"
      "      grpc:\n"
      "        endpoint: 0.0.0.0:4317\n"
      "exporters: [debug, \"otlp\"]\n",
      errors);
  REQUIRE(errors.empty());
  REQUIRE(root.is_map());
  CHECK(root.location.file == "test.yaml");
  CHECK(root.location.line == 1);
  CHECK(root.location.column == 1);

  REQUIRE(root.entries.size() == 2);
  CHECK(root.entries[0].key == "receivers");
  CHECK(root.entries[0].key_location.line == 1);
  CHECK(root.entries[0].key_location.column == 1);
  CHECK(root.entries[1].key_location.line == 6);

  const Value* endpoint = root.find_path("receivers.otlp.protocols.grpc.endpoint");
  REQUIRE(endpoint != nullptr);
  CHECK(endpoint->is_scalar());
  CHECK(endpoint->scalar == "0.0.0.0:4317");
  CHECK(endpoint->location.line == 5);
  CHECK(endpoint->location.column == 19);
  const Value* grpc = root.find_path("receivers.otlp.protocols.grpc");
  REQUIRE(grpc != nullptr);
  CHECK(grpc->entries[0].key_location.line == 5);
  CHECK(grpc->entries[0].key_location.column == 9);

  const Value* exporters = root.find("exporters");
  REQUIRE(exporters != nullptr);
  REQUIRE(exporters->is_seq());
  REQUIRE(exporters->items.size() == 2);
  CHECK(exporters->items[0].location.line == 6);
  CHECK(exporters->items[0].location.column == 13);
  CHECK(exporters->items[1].location.column == 20);
  CHECK(root.find_path("receivers.nope") == nullptr);
  CHECK(root.find_path("exporters.debug") == nullptr);
}

TEST_CASE("parse_yaml keeps quoted scalars distinct and empty values null") {
  Errors errors;
  Value root = parse(
      "a: true\n"
      "b: \"true\"\n"
      "c: 'null'\n"
      "d: null\n"
      "e:\n"
      "f: ~\n"
      "g: !!str 5\n"
      "h: |\n"
      "  text\n",
      errors);
  REQUIRE(errors.empty());
  CHECK(root.find("a")->is_scalar());
  CHECK_FALSE(root.find("a")->quoted);
  CHECK(root.find("b")->quoted);
  CHECK(root.find("b")->scalar == "true");
  CHECK(root.find("c")->is_scalar());
  CHECK(root.find("c")->quoted);
  CHECK(root.find("c")->scalar == "null");
  CHECK(root.find("d")->is_null());
  CHECK(root.find("e")->is_null());
  // An empty value points at its key, not at the next line where yaml-cpp marks it.
  CHECK(root.find("e")->location.line == 5);
  CHECK(root.find("f")->is_null());
  CHECK(root.find("g")->quoted);
  CHECK(root.find("h")->quoted);
  CHECK(root.find("h")->scalar == "text\n");
}

TEST_CASE("parse_yaml: empty document, anchors, several documents") {
  Errors errors;
  CHECK(parse("", errors).is_null());
  CHECK(parse("# only a comment\n", errors).is_null());
  CHECK(errors.empty());

  Value anchored = parse("base: &b {x: 1}\nother: *b\n", errors);
  CHECK(errors.empty());
  CHECK(anchored.find_path("other.x")->scalar == "1");

  Value first = parse("a: 1\n---\nb: 2\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("2 YAML documents") != std::string::npos);
  CHECK(errors[0].location.line == 3);
  CHECK(first.find("a") != nullptr);
  CHECK(first.find("b") == nullptr);
}

TEST_CASE("parse_yaml: input that stalls yaml-cpp 0.7's parser is an error, not an endless loop") {
  // Found by tests/fuzz/fuzz_config: YAML::LoadAll never returned on these (and ate all memory).
  for (const char* text : {"!,)\n", ",\n", "--- !x\n,\n"}) {
    Errors errors;
    CHECK(parse(text, errors).is_null());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "invalid YAML: unexpected token");
    CHECK(errors[0].location.line >= 1);
  }
}

TEST_CASE("parse_yaml rejects duplicate keys, top level and nested") {
  Errors errors;
  parse("a: 1\nb: 2\na: 3\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "duplicate key 'a' (first at line 1)");
  CHECK(errors[0].location.line == 3);
  CHECK(errors[0].location.column == 1);

  errors.clear();
  parse("x:\n  y:\n    k: 1\n    j: 2\n    k: 3\n  y2: {p: 1, p: 2}\n", errors);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "duplicate key 'k' (first at line 3)");
  CHECK(errors[0].location.line == 5);
  CHECK(errors[0].location.column == 5);
  CHECK(errors[1].message == "duplicate key 'p' (first at line 6)");
  CHECK(errors[1].location.line == 6);
}

TEST_CASE("parse_yaml rejects non-scalar keys") {
  Errors errors;
  parse("? [1, 2]\n: x\nok: 1\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("map keys must be scalars") != std::string::npos);
  CHECK(errors[0].location.line == 1);
}

TEST_CASE("malformed YAML gives one error with a line number") {
  struct Case {
    const char* name;
    const char* text;
    int line;
  };
  const Case cases[] = {
      // yaml-cpp reports where it gives up: for an unclosed flow, the end of the input.
      {"unclosed bracket", "a: 1\nb: [1, 2\n", 3},
      {"unclosed brace", "a: 1\nb: {x: 1\nc: 2\n", 3},
      {"bad indentation", "a:\n  b: 1\n c: 2\n", 3},
      {"tab indentation", "a:\n\tb: 1\n", 2},
      {"unclosed quote at end of input", "a: \"abc", 1},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    Errors errors;
    Value v = parse(c.text, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].location.file == "test.yaml");
    CHECK(errors[0].location.line == c.line);
    CHECK(errors[0].message.rfind("invalid YAML: ", 0) == 0);
    CHECK(v.is_null());
  }
}

TEST_CASE("over-deep nesting is an error, not a crash") {
  Errors errors;
  Value v = parse(std::string(100000, '['), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("nesting is too deep") != std::string::npos);
  CHECK(errors[0].location.line == 1);
  CHECK(v.is_null());
}

TEST_CASE("self-referencing aliases and alias bombs are errors, not crashes") {
  Errors errors;
  Value v = parse("a: &x [*x]\n", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("deeper than") != std::string::npos);
  CHECK(v.is_null());

  errors.clear();
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i) {
    const std::string name = std::to_string(i);
    const std::string prev = std::to_string(i - 1);
    bomb.append("l").append(name).append(": &l").append(name).append(" [");
    for (int j = 0; j < 10; ++j) bomb.append(j ? ", *l" : "*l").append(prev);
    bomb.append("]\n");
  }
  v = parse(bomb, errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("nodes") != std::string::npos);
}

TEST_CASE("load_file errors: missing, directory, too large") {
  TempDir dir;
  Errors errors;
  Value v = load_file((dir.path / "missing.yaml").string(), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "cannot read config file: No such file or directory");
  CHECK(errors[0].location.file == (dir.path / "missing.yaml").string());
  CHECK(v.is_null());

  errors.clear();
  load_file(dir.path.string(), errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("directory") != std::string::npos);

  errors.clear();
  const std::string big = dir.write("big.yaml", "a: " + std::string(10 * 1024 * 1024, 'x') + "\n");
  load_file(big, errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "config file is 10485764 bytes; the limit is 4194304");

  errors.clear();
  const std::string ok = dir.write("ok.yaml", "a: 1\n");
  Value good = load_file(ok, errors);
  CHECK(errors.empty());
  CHECK(good.find("a")->location.file == ok);
}

TEST_CASE("merge and load_files: maps merge deep, lists replace, later wins") {
  TempDir dir;
  const std::string f1 = dir.write("1.yaml",
                                   "exporters:\n"
                                   "  otlp:\n"
                                   "    endpoint: a:4317\n"
                                   "    headers: {x: 1}\n"
                                   "service:\n"
                                   "  pipelines:\n"
                                   "    logs:\n"
                                   "      receivers: [filelog, otlp]\n"
                                   "      exporters: [otlp]\n");
  const std::string f2 = dir.write("2.yaml",
                                   "exporters:\n"
                                   "  otlp:\n"
                                   "    headers: {y: 2}\n"
                                   "  debug: {}\n"
                                   "service:\n"
                                   "  pipelines:\n"
                                   "    logs:\n"
                                   "      receivers: [otlp]\n");
  const std::string f3 = dir.write("3.yaml", "exporters:\n  otlp:\n    endpoint: c:4317\n");
  const std::string empty = dir.write("empty.yaml", "");

  SUBCASE("two files") {
    Errors errors;
    Value root = load_files({f1, f2}, env_of({}), errors);
    REQUIRE(errors.empty());
    CHECK(root.find_path("exporters.otlp.endpoint")->scalar == "a:4317");
    CHECK(root.find_path("exporters.otlp.endpoint")->location.file == f1);
    CHECK(root.find_path("exporters.otlp.headers.x")->scalar == "1");
    CHECK(root.find_path("exporters.otlp.headers.y")->scalar == "2");
    CHECK(root.find_path("exporters.otlp.headers.y")->location.file == f2);
    CHECK(root.find_path("exporters.debug")->is_map());
    const Value* receivers = root.find_path("service.pipelines.logs.receivers");
    REQUIRE(receivers->items.size() == 1);
    CHECK(receivers->items[0].scalar == "otlp");
    CHECK(receivers->location.file == f2);
    CHECK(receivers->location.line == 8);
    CHECK(root.find_path("service.pipelines.logs.exporters")->items.size() == 1);
    CHECK(root.find_path("service.pipelines.logs.exporters")->location.file == f1);
  }
  SUBCASE("three files, the last wins, an empty file changes nothing") {
    Errors errors;
    Value root = load_files({f1, f2, empty, f3}, env_of({}), errors);
    REQUIRE(errors.empty());
    const Value* endpoint = root.find_path("exporters.otlp.endpoint");
    CHECK(endpoint->scalar == "c:4317");
    CHECK(endpoint->location.file == f3);
    CHECK(endpoint->location.line == 3);
    const Value* otlp = root.find_path("exporters.otlp");
    CHECK(otlp->entries[0].key == "endpoint");
    CHECK(otlp->entries[0].key_location.file == f3);
    CHECK(root.find_path("exporters.otlp.headers.x") != nullptr);
    CHECK(root.find_path("exporters.otlp.headers.y") != nullptr);
  }
  SUBCASE("a scalar replaces a map and a map replaces a scalar") {
    Errors errors;
    Value a = parse("k: {x: 1}\nm: s\n", errors);
    Value b = parse("k: plain\nm: {y: 2}\n", errors);
    merge(a, std::move(b));
    CHECK(a.find("k")->scalar == "plain");
    CHECK(a.find_path("m.y")->scalar == "2");
  }
  SUBCASE("errors from every file are reported, and no files is an error") {
    Errors errors;
    const std::string bad = dir.write("bad.yaml", "a: [\n");
    load_files({bad, (dir.path / "nope.yaml").string(), f1}, env_of({}), errors);
    CHECK(errors.size() == 2);
    errors.clear();
    load_files({}, env_of({}), errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "no config file given");
  }
  SUBCASE("load_files expands the environment") {
    Errors errors;
    const std::string f = dir.write("env.yaml", "endpoint: ${env:HOST}:4317\n");
    Value root = load_files({f}, env_of({{"HOST", "collector"}}), errors);
    CHECK(errors.empty());
    CHECK(root.find("endpoint")->scalar == "collector:4317");
  }
}

TEST_CASE("expand_env: every form") {
  Errors errors;
  const EnvLookup env = env_of({{"HOST", "h1"}, {"PORT", "4317"}, {"EMPTY", ""}, {"REF", "${HOST}"},
                                {"DOLLAR", "a$$b"}});
  CHECK(expand_one("${env:HOST}", env, errors) == "h1");
  CHECK(expand_one("${HOST}", env, errors) == "h1");
  CHECK(expand_one("${env:HOST}:${PORT}", env, errors) == "h1:4317");
  CHECK(expand_one("\"http://${HOST}:${env:PORT}/v1\"", env, errors) == "http://h1:4317/v1");
  CHECK(expand_one("${env:UNSET:-dflt}", env, errors) == "dflt");
  CHECK(expand_one("${UNSET:-dflt}", env, errors) == "dflt");
  CHECK(expand_one("${HOST:-dflt}", env, errors) == "h1");
  CHECK(expand_one("${EMPTY:-dflt}", env, errors) == "");  // set but empty: no default
  CHECK(expand_one("${UNSET:-}", env, errors) == "");
  CHECK(expand_one("'${UNSET:-a:b/c}'", env, errors) == "a:b/c");
  CHECK(expand_one("${UNSET}", env, errors) == "");
  CHECK(expand_one("x${env:UNSET}y", env, errors) == "xy");
  CHECK(expand_one("$$", env, errors) == "$");
  CHECK(expand_one("$${HOST}", env, errors) == "${HOST}");
  CHECK(expand_one("a$$$${HOST}", env, errors) == "a$${HOST}");
  CHECK(expand_one("a$$${HOST}", env, errors) == "a$h1");
  CHECK(expand_one("price$5", env, errors) == "price$5");
  CHECK(expand_one("end$", env, errors) == "end$");
  // Not recursive: a value that looks like a reference stays as written.
  CHECK(expand_one("${REF}", env, errors) == "${HOST}");
  CHECK(expand_one("${DOLLAR}", env, errors) == "a$$b");
  CHECK(errors.empty());
}

TEST_CASE("expand_env: keys untouched, every scalar in maps and lists expanded, location kept") {
  Errors errors;
  Value v = parse("${HOST}: x\nlist: [\"${HOST}\", b]\nnested: {k: '${PORT}'}\n", errors);
  REQUIRE(errors.empty());
  expand_env(v, env_of({{"HOST", "h"}, {"PORT", "1"}}), errors);
  CHECK(errors.empty());
  CHECK(v.entries[0].key == "${HOST}");
  CHECK(v.find("list")->items[0].scalar == "h");
  CHECK(v.find("list")->items[0].location.line == 2);
  CHECK(v.find("list")->items[0].location.column == 8);
  CHECK(v.find_path("nested.k")->scalar == "1");
  CHECK(v.find_path("nested.k")->quoted);
}

TEST_CASE("expand_env: malformed references are errors with location") {
  const EnvLookup env = env_of({{"HOST", "h"}});
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"a ${HOST", "unterminated '${'"},
      {"${}", "invalid environment variable name ''"},
      {"${1ABC}", "invalid environment variable name '1ABC'"},
      {"${env:A-B}", "invalid environment variable name 'A-B'"},
      {"${ HOST }", "invalid environment variable name ' HOST '"},
      {"${env:}", "invalid environment variable name ''"},
      {"${file:/etc/x}", "unsupported reference"},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.text));
    Errors errors;
    Value v = parse(std::string("a: 1\nk: \"") + c.text + "\"\n", errors);
    REQUIRE(errors.empty());
    expand_env(v, env, errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find(c.message_part) != std::string::npos);
    CHECK(errors[0].location.line == 2);
    CHECK(errors[0].location.column == 4);
  }
}

TEST_CASE("process_env reads the process environment") {
  ::setenv("VIGIL_CONFIG_TEST_VAR", "val", 1);
  ::unsetenv("VIGIL_CONFIG_TEST_UNSET");
  const EnvLookup env = process_env();
  CHECK(env("VIGIL_CONFIG_TEST_VAR") == std::optional<std::string>("val"));
  CHECK_FALSE(env("VIGIL_CONFIG_TEST_UNSET").has_value());
}
