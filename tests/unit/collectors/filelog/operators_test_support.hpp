#pragma once
// Helpers for the filelog operator tests: build a chain from YAML, feed it lines laid out as the
// receiver lays them out (followed by kInputPadding bytes), and keep deep copies of what comes out.

#include <doctest/doctest.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/loader.hpp"
#include "collectors/filelog/operators/common.hpp"
#include "collectors/filelog/operators/operator.hpp"

namespace vigil::testing {

namespace fl = vigil::collectors::filelog;

// A value as compact JSON, for comparisons (strings quoted, kvlists in their order).
inline std::string render(const model::AnyValue& v) {
  switch (v.type()) {
    case model::ValueType::kEmpty:
      return "null";
    case model::ValueType::kString:
    case model::ValueType::kBytes: {
      std::string out = "\"";
      for (char c : v.string_value()) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += c;
        } else if (c == '\n') {
          out += "\\n";
        } else {
          out += c;
        }
      }
      return out + "\"";
    }
    case model::ValueType::kBool:
      return v.bool_value() ? "true" : "false";
    case model::ValueType::kInt:
      return std::to_string(v.int_value());
    case model::ValueType::kDouble: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", v.double_value());
      return std::string(buf) + "d";
    }
    case model::ValueType::kArray: {
      std::string out = "[";
      for (std::uint32_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + render(v.array_begin()[i]);
      return out + "]";
    }
    case model::ValueType::kKvList: {
      std::string out = "{";
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        out += (i ? ",\"" : "\"") + std::string(v.kvlist_begin()[i].key) +
               "\":" + render(v.kvlist_begin()[i].value);
      }
      return out + "}";
    }
  }
  return "?";
}

inline std::string render(const model::Attributes& attrs) {
  return render(model::AnyValue::kvlist(attrs.data(), static_cast<std::uint32_t>(attrs.size())));
}

// An attribute rendered, or "<absent>".
inline std::string attr(const model::Attributes& attrs, std::string_view key) {
  const model::AnyValue* v = model::find_attribute(attrs, key);
  return v == nullptr ? "<absent>" : render(*v);
}

inline std::string text_of(const model::AnyValue& v) {
  return std::string(v.string_value());
}

// Builds operators; the errors as "line:column: message" strings.
inline std::vector<std::string> build_errors(const std::string& yaml) {
  config::Errors errors;
  const config::Value v = config::parse_yaml(yaml, "t.yaml", errors);
  REQUIRE(errors.empty());
  auto ops = fl::build_operators(&v, "filelog/test", errors);
  std::vector<std::string> out;
  for (const config::Error& e : errors) {
    out.push_back(std::to_string(e.location.line) + ":" + std::to_string(e.location.column) + ": " +
                  e.message);
  }
  if (!errors.empty()) CHECK(ops.empty());
  return out;
}

inline bool contains(const std::vector<std::string>& errors, std::string_view needle) {
  for (const std::string& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

class Harness {
 public:
  explicit Harness(const std::string& yaml) {
    config::Errors errors;
    config_ = config::parse_yaml(yaml, "t.yaml", errors);
    REQUIRE(errors.empty());
    auto ops = fl::build_operators(&config_, "filelog/test", errors);
    for (const auto& e : errors) FAIL_CHECK(e.str());
    REQUIRE(errors.empty());
    chain_ = std::make_unique<fl::Chain>(
        std::move(ops), [this](fl::Context&, fl::Entry& e) { out.push_back(fl::ops::copy_entry(keep_, e)); });
    state = chain_->make_state();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // A line as the receiver hands it: a view of the text, padding after it in the same buffer.
  std::string_view line(std::string_view text) {
    lines_.emplace_back(std::string(text) + std::string(fl::kInputPadding, '\n'));
    return std::string_view(lines_.back().data(), text.size());
  }

  void feed(std::string_view text, std::uint64_t offset = 0) {
    fl::Entry e;
    e.record.body = model::AnyValue::string(line(text));
    e.offset = offset;
    feed_entry(e);
  }
  void feed_entry(fl::Entry& e) {
    fl::Context c{*arena_, state, stats, *chain_, file_path, now};
    chain_->process(c, e);
  }
  void flush() {
    fl::Context c{*arena_, state, stats, *chain_, file_path, now};
    chain_->flush(c);
  }
  void flush_expired(std::uint64_t at) {
    fl::Context c{*arena_, state, stats, *chain_, file_path, at};
    chain_->flush_expired(c, at);
  }
  // A new batch arena (the old one is released, as when a batch is sent).
  void new_batch() { arena_ = std::make_unique<model::Arena>(); }
  model::Arena& arena() { return *arena_; }

  const fl::Entry& at(std::size_t i) const {
    REQUIRE(i < out.size());
    return out[i];
  }
  std::string body(std::size_t i) const {
    const fl::Entry& e = at(i);
    return e.record.body.type() == model::ValueType::kString ? text_of(e.record.body) : render(e.record.body);
  }

  std::vector<fl::Entry> out;
  fl::ChainState state;
  fl::OperatorStats stats;
  std::string file_path;
  std::uint64_t now = 0;

 private:
  config::Value config_;
  model::Arena keep_;
  std::unique_ptr<model::Arena> arena_ = std::make_unique<model::Arena>();
  std::deque<std::string> lines_;
  std::unique_ptr<fl::Chain> chain_;
};

}  // namespace vigil::testing
