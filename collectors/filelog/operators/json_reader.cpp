// JSON object -> model values, simdjson On-Demand, in place on padded input.
#include "collectors/filelog/operators/json_reader.hpp"

#include <cstring>

#include "collectors/filelog/operators/common.hpp"

namespace vigil::collectors::filelog::ops {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

static_assert(kInputPadding >= simdjson::SIMDJSON_PADDING, "the line padding must cover simdjson's");

// Nesting below the root object; bounds the recursion.
constexpr int kMaxDepth = 128;

const char* message(error_code e) {
  switch (e) {
    case simdjson::EMPTY:
      return "empty input";
    case simdjson::TAPE_ERROR:
      return "invalid JSON structure";
    case simdjson::UNCLOSED_STRING:
      return "unclosed string";
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::STRING_ERROR:
      return "invalid string escape";
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "invalid number";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "invalid literal";
    case simdjson::DEPTH_ERROR:
      return "JSON nested too deeply";
    case simdjson::INCORRECT_TYPE:
      return "invalid JSON value";
    case simdjson::CAPACITY:
      return "JSON document too large";
    default:
      return simdjson::error_message(e);
  }
}

}  // namespace

bool JsonReader::fail(error_code e) {
  error_ = message(e);
  return false;
}

bool JsonReader::key_of(od::field& field, std::string_view& key) {
  const char* begin = field.key().raw();
  const auto* quote =
      static_cast<const char*>(std::memchr(begin, '"', static_cast<std::size_t>(end_ - begin)));
  if (quote != nullptr && std::memchr(begin, '\\', static_cast<std::size_t>(quote - begin)) == nullptr) {
    key = std::string_view(begin, static_cast<std::size_t>(quote - begin));
    return true;
  }
  std::string_view unescaped;
  if (error_code e = field.unescaped_key().get(unescaped)) return fail(e);
  key = arena_->copy(unescaped);
  return true;
}

bool JsonReader::object(od::object obj, std::size_t start, int depth) {
  for (auto result : obj) {
    od::field field;
    if (error_code e = std::move(result).get(field)) return fail(e);
    std::string_view key;
    if (!key_of(field, key)) return false;
    model::AnyValue v;
    if (!value(field.value(), v, depth)) return false;
    bool replaced = false;
    for (std::size_t i = start; i < kvs_.size(); ++i) {
      if (kvs_[i].key == key) {
        kvs_[i].value = v;  // a repeated key keeps its last value, as Go's decoder does
        replaced = true;
        break;
      }
    }
    if (!replaced) kvs_.push_back(model::KeyValue{key, v});
  }
  return true;
}

bool JsonReader::value(od::value v, model::AnyValue& out, int depth) {
  od::json_type type;
  if (error_code e = v.type().get(type)) return fail(e);
  switch (type) {
    case od::json_type::object: {
      if (depth >= kMaxDepth) return fail(simdjson::DEPTH_ERROR);
      od::object obj;
      if (error_code e = v.get_object().get(obj)) return fail(e);
      const std::size_t start = kvs_.size();
      if (!object(obj, start, depth + 1)) return false;
      const std::size_t n = kvs_.size() - start;
      model::KeyValue* items = arena_->allocate_array<model::KeyValue>(n);
      for (std::size_t i = 0; i < n; ++i) items[i] = kvs_[start + i];
      kvs_.resize(start);
      out = model::AnyValue::kvlist(items, static_cast<std::uint32_t>(n));
      return true;
    }
    case od::json_type::array: {
      if (depth >= kMaxDepth) return fail(simdjson::DEPTH_ERROR);
      od::array arr;
      if (error_code e = v.get_array().get(arr)) return fail(e);
      const std::size_t start = items_.size();
      for (auto result : arr) {
        od::value element;
        if (error_code e = std::move(result).get(element)) return fail(e);
        model::AnyValue x;
        if (!value(element, x, depth + 1)) return false;
        items_.push_back(x);
      }
      const std::size_t n = items_.size() - start;
      model::AnyValue* items = arena_->allocate_array<model::AnyValue>(n);
      for (std::size_t i = 0; i < n; ++i) items[i] = items_[start + i];
      items_.resize(start);
      out = model::AnyValue::array(items, static_cast<std::uint32_t>(n));
      return true;
    }
    case od::json_type::string: {
      // Without escapes the text is a view of the input; otherwise simdjson unescapes it into the
      // parser's buffer, which the next line reuses, so it is copied.
      // The token runs to the next structural character: the closing quote is its last
      // non-blank character.
      std::string_view token = v.raw_json_token();
      while (token.size() > 1 &&
             (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r')) {
        token.remove_suffix(1);
      }
      if (token.size() < 2 || token[0] != '"' || token.back() != '"') return fail(simdjson::INCORRECT_TYPE);
      const char* begin = token.data() + 1;
      const char* quote = token.data() + token.size() - 1;
      if (std::memchr(begin, '\\', static_cast<std::size_t>(quote - begin)) == nullptr) {
        od::raw_json_string raw;
        if (error_code e = v.get_raw_json_string().get(raw)) return fail(e);
        out = model::AnyValue::string(std::string_view(begin, static_cast<std::size_t>(quote - begin)));
        return true;
      }
      std::string_view s;
      if (error_code e = v.get_string().get(s)) return fail(e);
      out = model::AnyValue::string(options_.pad_copies ? copy_padded(*arena_, s) : arena_->copy(s));
      return true;
    }
    case od::json_type::number: {
      if (options_.parse_ints) {
        od::number num;
        if (v.get_number().get(num) == simdjson::SUCCESS) {
          switch (num.get_number_type()) {
            case od::number_type::signed_integer:
              out = model::AnyValue::integer(num.get_int64());
              break;
            case od::number_type::unsigned_integer:
              out = model::AnyValue::floating(static_cast<double>(num.get_uint64()));
              break;
            default:
              out = model::AnyValue::floating(num.get_double());
              break;
          }
          return true;
        }
      }
      double d = 0;
      if (error_code e = v.get_double().get(d)) return fail(e);
      out = model::AnyValue::floating(d);
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (error_code e = v.get_bool().get(b)) return fail(e);
      out = model::AnyValue::boolean(b);
      return true;
    }
    case od::json_type::null: {
      bool null = false;
      if (error_code e = v.is_null().get(null)) return fail(e);
      if (!null) return fail(simdjson::N_ATOM_ERROR);
      out = model::AnyValue();
      return true;
    }
  }
  return fail(simdjson::INCORRECT_TYPE);
}

bool JsonReader::parse_object(model::Arena& arena, std::string_view text, bool padded, const char*& error) {
  kvs_.clear();
  items_.clear();
  arena_ = &arena;
  error_ = nullptr;
  if (text.size() > simdjson::SIMDJSON_MAXSIZE_BYTES - kInputPadding) {
    error = "JSON document too large";
    return false;
  }
  if (!padded) text = copy_padded(arena, text);
  end_ = text.data() + text.size();
  od::document doc;
  const simdjson::padded_string_view input(text.data(), text.size(),
                                           text.size() + simdjson::SIMDJSON_PADDING);
  if (error_code e = parser_.iterate(input).get(doc)) {
    error = message(e);
    return false;
  }
  od::object obj;
  if (error_code e = doc.get_object().get(obj)) {
    error = e == simdjson::INCORRECT_TYPE || e == simdjson::SCALAR_DOCUMENT_AS_VALUE ? "not a JSON object"
                                                                                     : message(e);
    return false;
  }
  if (!object(obj, 0, 1)) {
    error = error_;
    kvs_.clear();
    return false;
  }
  // On-Demand stops at the end of the root object; anything after it is an error.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    error = "unexpected content after the JSON object";
    kvs_.clear();
    return false;
  }
  return true;
}

}  // namespace vigil::collectors::filelog::ops
