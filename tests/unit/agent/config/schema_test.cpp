#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "agent/config/loader.hpp"
#include "agent/config/schema.hpp"

using namespace vigil::config;
using namespace std::chrono_literals;

namespace {

// An exporter-like schema that exercises every option type.
Schema test_schema() {
  return {
      required(opt_string("endpoint", "", "Where to send.")),
      opt_bool("insecure", false, "Plain text."),
      opt_int("workers", 4, "Senders.", 1, 1000),
      opt_int("offset", -5, "Signed, unbounded."),
      opt_double("ratio", 0.25, "Sampling ratio.", 0.0, 1.0),
      opt_string("encoding", "proto", "Wire encoding.", {"json", "proto"}),
      opt_duration("timeout", "5s", "Per request.", 0.001, 3600),
      opt_string_list("include", "Globs."),
      opt_string_map("headers", "Extra headers."),
      opt_object("sending_queue", "The queue.",
                 {
                     opt_bool("enabled", true, "Queue at all."),
                     opt_int("queue_size", 1000, "Batches.", 1, 1'000'000),
                     opt_object("storage", "Disk.", {required(opt_string("directory", "", "Where."))}),
                 }),
      opt_any("extra", "Checked by the component."),
  };
}

Value parse(const std::string& text) {
  Errors errors;
  Value v = parse_yaml(text, "c.yaml", errors);
  REQUIRE(errors.empty());
  return v;
}

Errors check(const std::string& text) {
  const Schema schema = test_schema();
  Value v = parse(text);
  Errors errors;
  validate(schema, &v, Location{"c.yaml", 1, 1}, "otlp/x", errors);
  return errors;
}

// The single error `text` must produce; its message must contain `part`.
Error one_error(const std::string& text, const std::string& part) {
  Errors errors = check(text);
  CAPTURE(text);
  REQUIRE(errors.size() == 1);
  CAPTURE(errors[0].message);
  CHECK(errors[0].message.find(part) != std::string::npos);
  CHECK(errors[0].component == "otlp/x");
  return errors[0];
}

}  // namespace

TEST_CASE("parse_duration follows Go's syntax") {
  using ns = std::chrono::nanoseconds;
  struct Case {
    const char* text;
    std::optional<ns> want;
  };
  const Case cases[] = {
      {"0", ns(0)},
      {"+0", ns(0)},
      {"0s", ns(0)},
      {"1ns", ns(1)},
      {"1us", 1us},
      {"1\xC2\xB5s", 1us},
      {"1\xCE\xBCs", 1us},
      {"200ms", 200ms},
      {"5s", 5s},
      {"+5s", 5s},
      {"1m", 1min},
      {"2h", 2h},
      {"1m30s", 90s},
      {"1h2m3.5s", 1h + 2min + 3500ms},
      {"1.5h", 90min},
      {".5s", 500ms},
      {"5.s", 5s},
      {"1.000000001s", ns(1'000'000'001)},
      {"0.1ns", ns(0)},
      {"2562047h", 2562047h},  // the largest whole number of hours in int64 nanoseconds
      {"2562048h", std::nullopt},
      {"9223372036854775807ns", ns(9223372036854775807LL)},
      {"9223372036854775808ns", std::nullopt},
      {"99999999999999999999s", std::nullopt},
      {"", std::nullopt},
      {"5", std::nullopt},
      {"1s5", std::nullopt},
      {"-5s", std::nullopt},
      {"-0", std::nullopt},
      {"s", std::nullopt},
      {".s", std::nullopt},
      {"5 s", std::nullopt},
      {"5sec", std::nullopt},
      {"5S", std::nullopt},
      {"1d", std::nullopt},
      {"++5s", std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.text));
    CHECK(parse_duration(c.text) == c.want);
  }
}

TEST_CASE("builders fill in type, default and bounds") {
  const Option b = opt_bool("x", true, "h");
  CHECK(b.type == OptionType::kBool);
  CHECK(b.default_value == "true");
  const Option i = opt_int("n", 42, "h", 1, 100);
  CHECK(i.type == OptionType::kInt);
  CHECK(i.default_value == "42");
  CHECK(i.min == 1);
  CHECK(i.max == 100);
  CHECK(opt_double("d", 0.1, "h").default_value == "0.1");
  const Option s = opt_string("s", "json", "h", {"json", "proto"});
  CHECK(s.allowed.size() == 2);
  CHECK_FALSE(s.required);
  CHECK(required(s).required);
  CHECK(opt_duration("t", "5s", "h", 1).min == 1);
  CHECK(opt_string_list("l", "h").type == OptionType::kStringList);
  CHECK(opt_string_map("m", "h").type == OptionType::kStringMap);
  CHECK(opt_object("o", "h", {b, i}).children.size() == 2);
  CHECK(opt_any("a", "h").type == OptionType::kAny);
}

TEST_CASE("validate accepts a good config") {
  CHECK(check("endpoint: a:4317\n"
              "insecure: TRUE\n"
              "workers: 0x10\n"
              "offset: -3\n"
              "ratio: 1\n"
              "encoding: json\n"
              "timeout: 1m30s\n"
              "include: [a, 1, 'b']\n"
              "headers: {x-a: 1, b: two, c: }\n"
              "sending_queue:\n"
              "  enabled: false\n"
              "  queue_size: 10\n"
              "extra: {anything: [goes]}\n")
            .empty());
  // Nulls mean "use the default"; a null object means "present with defaults".
  CHECK(check("endpoint: x\ntimeout:\nworkers: ~\nsending_queue:\n").empty());
  // Numbers are fine as strings.
  CHECK(check("endpoint: 4317\n").empty());
}

TEST_CASE("validate: a null component config is an empty map") {
  const Schema schema = {opt_int("a", 1, "h")};
  Errors errors;
  validate(schema, nullptr, Location{"c.yaml", 4, 3}, "debug", errors);
  CHECK(errors.empty());
  Value null_node;
  validate(schema, &null_node, Location{"c.yaml", 4, 3}, "debug", errors);
  CHECK(errors.empty());

  const Schema req = {required(opt_string("path", "", "h"))};
  validate(req, nullptr, Location{"c.yaml", 4, 3}, "file", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "missing required option 'path'");
  CHECK(errors[0].location.line == 4);
  CHECK(errors[0].location.column == 3);
  CHECK(errors[0].str() == "c.yaml:4:3: file: missing required option 'path'");
}

TEST_CASE("validate: a non-map component config") {
  Error e = one_error("[1, 2]\n", "expected a map, got a sequence");
  CHECK(e.location.line == 1);
  one_error("just text\n", "expected a map, got a scalar");
  one_error("endpoint: x\nsending_queue: [1]\n", "'sending_queue': expected a map, got a sequence");
}

TEST_CASE("validate: unknown keys, with a suggestion when close") {
  Error e = one_error("endpoint: x\nencodng: json\n", "unknown key 'encodng', did you mean 'encoding'?");
  CHECK(e.message.find("(known keys: encoding, endpoint, extra, headers, include, insecure, offset, ratio, "
                       "sending_queue, timeout, workers)") != std::string::npos);
  CHECK(e.location.line == 2);
  CHECK(e.location.column == 1);
  // A misspelt required option: the unknown key with its suggestion, and the missing option.
  Errors both = check("endpont: x\n");
  REQUIRE(both.size() == 2);
  CHECK(both[0].message.find("unknown key 'endpont', did you mean 'endpoint'?") == 0);
  CHECK(both[1].message == "missing required option 'endpoint'");
  // Far from every known key: no suggestion. (endpoint is then missing, too.)
  Errors errors = check("endpoint: x\nbanana: 1\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("did you mean") == std::string::npos);
  CHECK(errors[0].message.find("unknown key 'banana' (known keys: ") == 0);
  CHECK(errors[0].location.line == 2);
  // Case slips are typos too.
  one_error("endpoint: x\nTimeout: 1s\n", "did you mean 'timeout'?");
}

TEST_CASE("validate: nested object unknown key") {
  Error e = one_error("endpoint: x\nsending_queue:\n  enabled: true\n  queue_sise: 5\n",
                      "unknown key 'queue_sise' in 'sending_queue', did you mean 'queue_size'?");
  CHECK(e.location.line == 4);
  CHECK(e.location.column == 3);
}

TEST_CASE("validate: wrong type for each type") {
  one_error("endpoint: x\ninsecure: yes\n", "'insecure': expected true or false, got 'yes'");
  one_error("endpoint: x\ninsecure: \"true\"\n", "got the quoted string \"true\"");
  one_error("endpoint: x\ninsecure: [true]\n", "expected true or false, got a sequence");
  one_error("endpoint: x\nworkers: 1.5\n", "'workers': expected an integer, got '1.5'");
  one_error("endpoint: x\nworkers: '10'\n", "'workers': expected an integer, got the quoted string");
  one_error("endpoint: x\nworkers: 99999999999999999999\n", "expected an integer");
  one_error("endpoint: x\nratio: half\n", "'ratio': expected a number, got 'half'");
  one_error("endpoint: x\nratio: .nan\n", "expected a number");
  one_error("endpoint: {a: 1}\n", "'endpoint': expected a string, got a map");
  one_error("endpoint: x\ntimeout: 5\n", "'timeout': expected a duration such as 200ms, 5s or 1m30s, got '5'");
  one_error("endpoint: x\ntimeout: {}\n", "expected a duration such as 200ms, 5s or 1m30s, got a map");
  one_error("endpoint: x\ninclude: a.log\n", "'include': expected a list of strings, got a scalar");
  Error item = one_error("endpoint: x\ninclude:\n  - a\n  - {b: 1}\n", "'include[1]': expected a string, got a map");
  CHECK(item.location.line == 4);
  one_error("endpoint: x\nheaders: [a]\n", "'headers': expected a map of strings, got a sequence");
  one_error("endpoint: x\nheaders: {a: [1]}\n", "'headers.a': expected a string, got a sequence");
}

TEST_CASE("validate: out of range and not allowed") {
  Error e = one_error("endpoint: x\nworkers: 0\n", "'workers': value 0 is out of range [1, 1000]");
  CHECK(e.location.line == 2);
  CHECK(e.location.column == 10);
  one_error("endpoint: x\nworkers: 1001\n", "value 1001 is out of range [1, 1000]");
  one_error("endpoint: x\nratio: 1.5\n", "'ratio': value 1.5 is out of range [0, 1]");
  one_error("endpoint: x\ntimeout: 2h\n", "'timeout': value 2h is out of range [0.001s, 3600s]");
  one_error("endpoint: x\ntimeout: 0s\n", "value 0s is out of range");
  one_error("endpoint: x\nencoding: xml\n", "'encoding': 'xml' is not one of json, proto");
  one_error("endpoint: x\nsending_queue: {queue_size: 0}\n", "'sending_queue.queue_size': value 0 is out of range");

  const Schema only_min = {opt_int("n", 1, "h", 1)};
  Value v = parse("n: 0\n");
  Errors errors;
  validate(only_min, &v, {}, "c", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "'n': value 0 is out of range (minimum 1)");
}

TEST_CASE("validate: missing required options") {
  Error e = one_error("insecure: true\n", "missing required option 'endpoint'");
  CHECK(e.location.line == 1);
  one_error("endpoint:\n", "required option 'endpoint' has no value");
  // A required child applies only when its object is present.
  CHECK(check("endpoint: x\nsending_queue: {}\n").empty());
  e = one_error("endpoint: x\nsending_queue:\n  storage: {}\n", "missing required option 'sending_queue.storage.directory'");
  CHECK(e.location.line == 3);
  e = one_error("endpoint: x\nsending_queue:\n  storage:\n", "missing required option 'sending_queue.storage.directory'");
  CHECK(e.location.line == 3);
}

TEST_CASE("validate reports every problem, not just the first") {
  Errors errors = check("insecure: maybe\n"
                        "workers: 0\n"
                        "encoding: xml\n"
                        "timout: 5s\n"
                        "sending_queue:\n"
                        "  queue_size: many\n"
                        "  bogus: 1\n");
  REQUIRE(errors.size() == 7);
  int lines[8] = {};
  for (const Error& e : errors) {
    CHECK(e.component == "otlp/x");
    if (e.location.line >= 1 && e.location.line <= 7) ++lines[e.location.line];
  }
  CHECK(lines[1] == 2);  // the bad bool, and the missing endpoint reported at the component
  for (int l = 2; l <= 4; ++l) CHECK(lines[l] == 1);
  CHECK(lines[6] == 1);
  CHECK(lines[7] == 1);
}

TEST_CASE("Settings: defaults vs user values") {
  const Schema schema = test_schema();
  Value v = parse("endpoint: a:4317\n"
                  "workers: 0x10\n"
                  "timeout: 250ms\n"
                  "include: [a, b]\n"
                  "headers: {x: '1', y: }\n"
                  "sending_queue:\n"
                  "  queue_size: 7\n"
                  "extra: {k: v}\n");
  Settings s(&schema, &v, Location{"c.yaml", 9, 5});
  CHECK(s.get_string("endpoint") == "a:4317");
  CHECK(s.get_bool("insecure") == false);
  CHECK(s.get_int("workers") == 16);
  CHECK(s.get_int("offset") == -5);
  CHECK(s.get_double("ratio") == doctest::Approx(0.25));
  CHECK(s.get_string("encoding") == "proto");
  CHECK(s.get_duration("timeout") == 250ms);
  CHECK(s.get_string_list("include") == std::vector<std::string>{"a", "b"});
  const auto headers = s.get_string_map("headers");
  REQUIRE(headers.size() == 2);
  CHECK(headers[0] == std::pair<std::string, std::string>("x", "1"));
  CHECK(headers[1] == std::pair<std::string, std::string>("y", ""));
  CHECK(s.get_bool("sending_queue.enabled") == true);
  CHECK(s.get_int("sending_queue.queue_size") == 7);
  REQUIRE(s.raw("extra") != nullptr);
  CHECK(s.raw("extra")->find("k")->scalar == "v");
  CHECK(s.raw("ratio") == nullptr);

  Settings defaults(&schema, nullptr, Location{"c.yaml", 9, 5});
  CHECK(defaults.get_int("workers") == 4);
  CHECK(defaults.get_duration("timeout") == 5s);
  CHECK(defaults.get_string_list("include").empty());
  CHECK(defaults.get_int("sending_queue.queue_size") == 1000);
  CHECK_FALSE(defaults.has("sending_queue"));
  CHECK(defaults.location("workers").line == 9);

  // Undeclared paths and wrong types give zero values.
  CHECK(s.get_int("nope") == 0);
  CHECK(s.get_int("endpoint") == 0);
  CHECK(s.get_bool("workers") == false);
  CHECK(s.get_string("workers").empty());
  CHECK(s.get_duration("sending_queue.nope") == 0ns);
}

TEST_CASE("Settings: has() and location() for null objects and keys") {
  const Schema schema = test_schema();
  Value v = parse("endpoint: x\ntimeout:\nsending_queue:\n");
  Settings s(&schema, &v, Location{"c.yaml", 1, 1});
  CHECK(s.has("sending_queue"));
  CHECK(s.has("timeout"));
  CHECK_FALSE(s.has("workers"));
  CHECK_FALSE(s.has("sending_queue.enabled"));
  CHECK(s.get_bool("sending_queue.enabled") == true);  // null object: present with defaults
  CHECK(s.get_duration("timeout") == 5s);               // null value: the default
  CHECK(s.location("timeout").line == 2);
  CHECK(s.location("sending_queue").line == 3);
  CHECK(s.location("workers").line == 1);
  CHECK(s.location().line == 1);
  CHECK(s.node() == &v);
}

TEST_CASE("Settings: env-expanded values are typed like written ones") {
  const Schema schema = test_schema();
  Errors errors;
  Value v = parse_yaml("endpoint: x\ninsecure: ${env:INSECURE}\nworkers: ${WORKERS:-8}\n", "c.yaml", errors);
  expand_env(v, [](std::string_view n) -> std::optional<std::string> {
    if (n == "INSECURE") return "true";
    return std::nullopt;
  }, errors);
  validate(schema, &v, {}, "otlp/x", errors);
  CHECK(errors.empty());
  Settings s(&schema, &v, {});
  CHECK(s.get_bool("insecure"));
  CHECK(s.get_int("workers") == 8);
}
