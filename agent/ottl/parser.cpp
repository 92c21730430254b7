// Lexer, parser and name resolution of the OTTL subset (compile time only: allocation and
// std::string are fine here). README.md in this folder is the grammar's reference.

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "agent/ottl/internal.hpp"

namespace vigil::ottl {
namespace {

using detail::ArithOp;
using detail::CmpOp;
using detail::Field;
using detail::Fn;
using detail::Key;
using detail::Node;
using detail::NodeKind;

// ---- names ----------------------------------------------------------------------------------

enum class Keys : std::uint8_t { kNone, kOptional, kStringFirst };
constexpr std::uint8_t kLogOnly = 1, kSpanOnly = 2, kBoth = 3;

struct PathDef {
  std::string_view name;
  Field field;
  std::uint8_t contexts;
  Keys keys;
};

constexpr PathDef kPaths[] = {
    {"attributes", Field::kAttributes, kBoth, Keys::kStringFirst},
    {"resource.attributes", Field::kResourceAttributes, kBoth, Keys::kStringFirst},
    {"instrumentation_scope.attributes", Field::kScopeAttributes, kBoth, Keys::kStringFirst},
    {"instrumentation_scope.name", Field::kScopeName, kBoth, Keys::kNone},
    {"instrumentation_scope.version", Field::kScopeVersion, kBoth, Keys::kNone},
    {"scope.attributes", Field::kScopeAttributes, kBoth, Keys::kStringFirst},
    {"scope.name", Field::kScopeName, kBoth, Keys::kNone},
    {"scope.version", Field::kScopeVersion, kBoth, Keys::kNone},
    {"trace_id.string", Field::kTraceIdString, kBoth, Keys::kNone},
    {"span_id.string", Field::kSpanIdString, kBoth, Keys::kNone},
    {"body", Field::kBody, kLogOnly, Keys::kOptional},
    {"severity_number", Field::kSeverityNumber, kLogOnly, Keys::kNone},
    {"severity_text", Field::kSeverityText, kLogOnly, Keys::kNone},
    {"time", Field::kTime, kLogOnly, Keys::kNone},
    {"observed_time", Field::kObservedTime, kLogOnly, Keys::kNone},
    {"time_unix_nano", Field::kTimeUnixNano, kLogOnly, Keys::kNone},
    {"observed_time_unix_nano", Field::kObservedTimeUnixNano, kLogOnly, Keys::kNone},
    {"event_name", Field::kEventName, kLogOnly, Keys::kNone},
    {"flags", Field::kFlags, kLogOnly, Keys::kNone},
    {"name", Field::kName, kSpanOnly, Keys::kNone},
    {"kind", Field::kKind, kSpanOnly, Keys::kNone},
    {"status.code", Field::kStatusCode, kSpanOnly, Keys::kNone},
    {"status.message", Field::kStatusMessage, kSpanOnly, Keys::kNone},
    {"start_time", Field::kStartTime, kSpanOnly, Keys::kNone},
    {"end_time", Field::kEndTime, kSpanOnly, Keys::kNone},
    {"start_time_unix_nano", Field::kStartTimeUnixNano, kSpanOnly, Keys::kNone},
    {"end_time_unix_nano", Field::kEndTimeUnixNano, kSpanOnly, Keys::kNone},
    {"duration", Field::kDuration, kSpanOnly, Keys::kNone},
    {"parent_span_id.string", Field::kParentSpanIdString, kSpanOnly, Keys::kNone},
    {"trace_state", Field::kTraceState, kSpanOnly, Keys::kNone},
};

struct FnDef {
  std::string_view name;
  Fn fn;
  std::size_t arity;
};

constexpr FnDef kFunctions[] = {
    {"IsMatch", Fn::kIsMatch, 2}, {"Int", Fn::kInt, 1},           {"Double", Fn::kDouble, 1},
    {"String", Fn::kString, 1},   {"Now", Fn::kNow, 0},           {"now", Fn::kNow, 0},
    {"IsString", Fn::kIsString, 1}, {"IsInt", Fn::kIsInt, 1},     {"IsDouble", Fn::kIsDouble, 1},
    {"IsBool", Fn::kIsBool, 1},   {"IsMap", Fn::kIsMap, 1},       {"IsList", Fn::kIsList, 1},
};

constexpr std::string_view kSupportedFunctions =
    "IsMatch, Int, Double, String, Now (or now), IsString, IsInt, IsDouble, IsBool, IsMap, IsList";

struct EnumDef {
  std::string_view name;
  std::int64_t value;
};

constexpr EnumDef kEnums[] = {
    {"SPAN_KIND_UNSPECIFIED", 0}, {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3},      {"SPAN_KIND_PRODUCER", 4}, {"SPAN_KIND_CONSUMER", 5},
    {"STATUS_CODE_UNSET", 0},     {"STATUS_CODE_OK", 1},     {"STATUS_CODE_ERROR", 2},
    {"SEVERITY_NUMBER_UNSPECIFIED", 0},
    {"SEVERITY_NUMBER_TRACE", 1}, {"SEVERITY_NUMBER_TRACE2", 2}, {"SEVERITY_NUMBER_TRACE3", 3},
    {"SEVERITY_NUMBER_TRACE4", 4},
    {"SEVERITY_NUMBER_DEBUG", 5}, {"SEVERITY_NUMBER_DEBUG2", 6}, {"SEVERITY_NUMBER_DEBUG3", 7},
    {"SEVERITY_NUMBER_DEBUG4", 8},
    {"SEVERITY_NUMBER_INFO", 9},  {"SEVERITY_NUMBER_INFO2", 10}, {"SEVERITY_NUMBER_INFO3", 11},
    {"SEVERITY_NUMBER_INFO4", 12},
    {"SEVERITY_NUMBER_WARN", 13}, {"SEVERITY_NUMBER_WARN2", 14}, {"SEVERITY_NUMBER_WARN3", 15},
    {"SEVERITY_NUMBER_WARN4", 16},
    {"SEVERITY_NUMBER_ERROR", 17}, {"SEVERITY_NUMBER_ERROR2", 18}, {"SEVERITY_NUMBER_ERROR3", 19},
    {"SEVERITY_NUMBER_ERROR4", 20},
    {"SEVERITY_NUMBER_FATAL", 21}, {"SEVERITY_NUMBER_FATAL2", 22}, {"SEVERITY_NUMBER_FATAL3", 23},
    {"SEVERITY_NUMBER_FATAL4", 24},
};

const char* context_name(Context c) { return c == Context::kLog ? "log" : "span"; }
std::uint8_t context_bit(Context c) { return c == Context::kLog ? kLogOnly : kSpanOnly; }

std::string path_list(Context c) {
  std::string out;
  for (const PathDef& p : kPaths) {
    if ((p.contexts & context_bit(c)) == 0) continue;
    if (!out.empty()) out += ", ";
    out += p.name;
    if (p.keys == Keys::kStringFirst) out += "[...]";
  }
  return out;
}

// ---- lexer ----------------------------------------------------------------------------------

enum class Tok : std::uint8_t {
  kEnd, kIdent, kString, kInt, kFloat, kLParen, kRParen, kLBracket, kRBracket, kComma, kDot,
  kPlus, kMinus, kStar, kSlash, kEq, kNe, kLt, kLe, kGt, kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::string value;  // a string literal, unescaped
};

struct Problem {
  std::uint32_t offset = 0;
  std::string message;
};

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

// Splits `text` into tokens; on a lexical error returns false with `problem` set.
bool lex(std::string_view text, std::vector<Token>& out, Problem& problem) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto at = [&](std::size_t k) { return k < n ? text[k] : '\0'; };
  while (i < n) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.begin = static_cast<std::uint32_t>(i);
    if (ident_start(c)) {
      while (i < n && ident_char(text[i])) ++i;
      t.kind = Tok::kIdent;
    } else if (digit(c) || (c == '.' && digit(at(i + 1)))) {
      bool is_float = false;
      while (i < n && digit(text[i])) ++i;
      if (at(i) == '.' && digit(at(i + 1))) {
        is_float = true;
        ++i;
        while (i < n && digit(text[i])) ++i;
      }
      if ((at(i) == 'e' || at(i) == 'E') &&
          (digit(at(i + 1)) || ((at(i + 1) == '+' || at(i + 1) == '-') && digit(at(i + 2))))) {
        is_float = true;
        i += 2;
        while (i < n && digit(text[i])) ++i;
      }
      if (ident_char(at(i))) {
        problem = {static_cast<std::uint32_t>(i), "malformed number"};
        return false;
      }
      t.kind = is_float ? Tok::kFloat : Tok::kInt;
    } else if (c == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        const char d = text[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\') {
          if (i + 1 >= n) break;  // reported as unterminated below
          const char e = text[i + 1];
          switch (e) {
            case '"': t.value += '"'; break;
            case '\\': t.value += '\\'; break;
            case 'n': t.value += '\n'; break;
            case 't': t.value += '\t'; break;
            case 'r': t.value += '\r'; break;
            default:
              problem = {static_cast<std::uint32_t>(i),
                         "unsupported escape \"\\" + std::string(1, e) + "\" (supported: \\\" \\\\ \\n \\t \\r)"};
              return false;
          }
          i += 2;
          continue;
        }
        t.value += d;
        ++i;
      }
      if (!closed) {
        problem = {t.begin, "unterminated string"};
        return false;
      }
      t.kind = Tok::kString;
    } else {
      const char d = at(i + 1);
      switch (c) {
        case '(': t.kind = Tok::kLParen; break;
        case ')': t.kind = Tok::kRParen; break;
        case '[': t.kind = Tok::kLBracket; break;
        case ']': t.kind = Tok::kRBracket; break;
        case ',': t.kind = Tok::kComma; break;
        case '.': t.kind = Tok::kDot; break;
        case '+': t.kind = Tok::kPlus; break;
        case '-': t.kind = Tok::kMinus; break;
        case '*': t.kind = Tok::kStar; break;
        case '/': t.kind = Tok::kSlash; break;
        case '=':
          if (d != '=') {
            problem = {t.begin, "unexpected \"=\" (comparison is ==)"};
            return false;
          }
          t.kind = Tok::kEq;
          ++i;
          break;
        case '!':
          if (d != '=') {
            problem = {t.begin, "unexpected \"!\" (negation is not)"};
            return false;
          }
          t.kind = Tok::kNe;
          ++i;
          break;
        case '<':
          t.kind = d == '=' ? Tok::kLe : Tok::kLt;
          if (d == '=') ++i;
          break;
        case '>':
          t.kind = d == '=' ? Tok::kGe : Tok::kGt;
          if (d == '=') ++i;
          break;
        default: {
          std::string shown = (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                                  ? "byte 0x" + std::string(1, "0123456789abcdef"[(c >> 4) & 0xf]) +
                                        std::string(1, "0123456789abcdef"[c & 0xf])
                                  : "\"" + std::string(1, c) + "\"";
          problem = {t.begin, "unexpected character " + shown};
          return false;
        }
      }
      ++i;
    }
    t.end = static_cast<std::uint32_t>(i);
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Tok::kEnd;
  end.begin = end.end = static_cast<std::uint32_t>(n);
  out.push_back(std::move(end));
  return true;
}

// ---- parser ---------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, Context context, Expression::Impl& impl)
      : text_(text), context_(context), impl_(impl) {}

  // Fills impl_; returns the problems found (the first syntax error alone, or every name error).
  std::vector<Problem> run() {
    Problem lexical;
    if (!lex(text_, tokens_, lexical)) return {lexical};
    if (tokens_.front().kind == Tok::kEnd) return {{0, "empty expression"}};
    const std::uint32_t root = parse_or();
    if (!syntax_ && peek().kind != Tok::kEnd) unexpected(peek());
    if (syntax_) return {*syntax_};
    if (!names_.empty()) return std::move(names_);
    if (auto deep = check_depth()) return {*deep};
    impl_.root = root;
    return {};
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > detail::kMaxDepth) p_.too_deep(p_.peek().begin);
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& p_;
  };

  const Token& peek(std::size_t ahead = 0) const {
    const std::size_t k = pos_ + ahead;
    return k < tokens_.size() ? tokens_[k] : tokens_.back();
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool is_word(const Token& t, std::string_view w) const { return t.kind == Tok::kIdent && token_text(t) == w; }
  std::string_view token_text(const Token& t) const { return text_.substr(t.begin, t.end - t.begin); }

  void fail(std::uint32_t offset, std::string message) {
    if (!syntax_) syntax_ = Problem{offset, std::move(message)};
  }
  void unexpected(const Token& t) {
    if (t.kind == Tok::kEnd) return fail(t.begin, "unexpected end of expression");
    if (t.kind == Tok::kString) return fail(t.begin, "unexpected string literal");
    fail(t.begin, "unexpected \"" + std::string(token_text(t)) + "\"");
  }
  void too_deep(std::uint32_t offset) {
    fail(offset, "expression nested too deeply (more than " + std::to_string(detail::kMaxDepth) + " levels)");
  }
  bool expect(Tok kind) {
    if (syntax_) return false;
    if (peek().kind != kind) {
      unexpected(peek());
      return false;
    }
    next();
    return true;
  }

  std::uint32_t add(Node&& node) {
    impl_.nodes.push_back(std::move(node));
    return static_cast<std::uint32_t>(impl_.nodes.size() - 1);
  }

  // or_expr := and_expr ("or" and_expr)*   (and/or are n-ary so long chains stay shallow)
  // Every nesting (parentheses, arguments) enters here, so the guard bounds the recursion.
  std::uint32_t parse_or() {
    DepthGuard guard(*this);
    if (syntax_) return 0;
    return parse_chain(NodeKind::kOr, "or");
  }
  std::uint32_t parse_and() { return parse_chain(NodeKind::kAnd, "and"); }

  std::uint32_t parse_chain(NodeKind kind, std::string_view word) {
    const std::uint32_t offset = peek().begin;
    std::uint32_t first = kind == NodeKind::kOr ? parse_and() : parse_not();
    if (syntax_ || !is_word(peek(), word)) return first;
    Node node;
    node.kind = kind;
    node.offset = offset;
    node.children.push_back(first);
    while (!syntax_ && is_word(peek(), word)) {
      next();
      node.children.push_back(kind == NodeKind::kOr ? parse_and() : parse_not());
    }
    return add(std::move(node));
  }

  // not_expr := "not" not_expr | cmp_expr   (as in OTTL, `not a == b` is `not (a == b)`)
  std::uint32_t parse_not() {
    if (!is_word(peek(), "not")) return parse_cmp();
    const std::uint32_t offset = next().begin;
    DepthGuard guard(*this);
    if (syntax_) return 0;
    Node node;
    node.kind = NodeKind::kNot;
    node.offset = offset;
    node.children.push_back(parse_not());
    return add(std::move(node));
  }

  // cmp_expr := add_expr (cmp_op add_expr)?
  std::uint32_t parse_cmp() {
    const std::uint32_t left = parse_add();
    if (syntax_) return left;
    CmpOp op;
    switch (peek().kind) {
      case Tok::kEq: op = CmpOp::kEq; break;
      case Tok::kNe: op = CmpOp::kNe; break;
      case Tok::kLt: op = CmpOp::kLt; break;
      case Tok::kLe: op = CmpOp::kLe; break;
      case Tok::kGt: op = CmpOp::kGt; break;
      case Tok::kGe: op = CmpOp::kGe; break;
      default: return left;
    }
    Node node;
    node.kind = NodeKind::kCompare;
    node.cmp = op;
    node.offset = next().begin;
    const std::uint32_t right = parse_add();
    node.children = {left, right};
    return add(std::move(node));
  }

  // add_expr := mul_expr (("+" | "-") mul_expr)*
  std::uint32_t parse_add() {
    std::uint32_t left = parse_mul();
    while (!syntax_ && (peek().kind == Tok::kPlus || peek().kind == Tok::kMinus)) {
      Node node;
      node.kind = NodeKind::kArith;
      node.arith = peek().kind == Tok::kPlus ? ArithOp::kAdd : ArithOp::kSub;
      node.offset = next().begin;
      const std::uint32_t right = parse_mul();
      node.children = {left, right};
      left = add(std::move(node));
    }
    return left;
  }

  // mul_expr := unary (("*" | "/") unary)*
  std::uint32_t parse_mul() {
    std::uint32_t left = parse_unary();
    while (!syntax_ && (peek().kind == Tok::kStar || peek().kind == Tok::kSlash)) {
      Node node;
      node.kind = NodeKind::kArith;
      node.arith = peek().kind == Tok::kStar ? ArithOp::kMul : ArithOp::kDiv;
      node.offset = next().begin;
      const std::uint32_t right = parse_unary();
      node.children = {left, right};
      left = add(std::move(node));
    }
    return left;
  }

  // unary := ("-" | "+") unary | primary   (a sign before a number literal is part of it)
  std::uint32_t parse_unary() {
    if (syntax_) return 0;
    const Token& t = peek();
    if (t.kind != Tok::kMinus && t.kind != Tok::kPlus) return parse_primary();
    const bool negative = t.kind == Tok::kMinus;
    const std::uint32_t offset = next().begin;
    if (peek().kind == Tok::kInt || peek().kind == Tok::kFloat) return number(next(), negative, offset);
    DepthGuard guard(*this);
    if (syntax_) return 0;
    const std::uint32_t operand = parse_unary();
    if (!negative) return operand;
    Node node;
    node.kind = NodeKind::kNeg;
    node.offset = offset;
    node.children.push_back(operand);
    return add(std::move(node));
  }

  std::uint32_t literal(Value v, std::uint32_t offset) {
    Node node;
    node.kind = NodeKind::kLiteral;
    node.literal = v;
    node.offset = offset;
    return add(std::move(node));
  }

  std::uint32_t number(const Token& t, bool negative, std::uint32_t offset) {
    const std::string_view s = token_text(t);
    if (t.kind == Tok::kInt) {
      std::uint64_t magnitude = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), magnitude);
      const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) +
                                  (negative ? 1 : 0);
      if (r.ec != std::errc() || magnitude > limit) {
        fail(offset, "integer literal out of range (64-bit)");
        return 0;
      }
      const auto v = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
      return literal(Value::integer(v), offset);
    }
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (r.ec != std::errc() || !std::isfinite(d)) {
      fail(offset, "float literal out of range");
      return 0;
    }
    return literal(Value::floating(negative ? -d : d), offset);
  }

  static bool enum_like(std::string_view s) {
    if (s.empty() || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
    for (char c : s) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
  }

  // primary := literal | enum | path | call | "(" or_expr ")"
  std::uint32_t parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kInt:
      case Tok::kFloat: {
        const Token& num = next();
        return number(num, false, num.begin);
      }
      case Tok::kString: {
        const Token& str = next();
        Node node;
        node.kind = NodeKind::kLiteral;
        node.literal.type = Type::kString;
        node.text = str.value;
        node.offset = str.begin;
        return add(std::move(node));
      }
      case Tok::kLParen: {
        next();
        const std::uint32_t inner = parse_or();
        expect(Tok::kRParen);
        return inner;
      }
      case Tok::kIdent:
        break;
      default:
        unexpected(t);
        return 0;
    }
    const std::string_view word = token_text(t);
    if (word == "true" || word == "false") return literal(Value::boolean(word == "true"), next().begin);
    if (word == "nil") return literal(Value::nil(), next().begin);
    if (word == "and" || word == "or" || word == "not") {
      unexpected(t);
      return 0;
    }
    if (peek(1).kind == Tok::kLParen) return parse_call();
    if (enum_like(word)) {
      const std::uint32_t offset = next().begin;
      for (const EnumDef& e : kEnums) {
        if (e.name == word) return literal(Value::integer(e.value), offset);
      }
      names_.push_back({offset, "unknown enum " + std::string(word)});
      return literal(Value::nil(), offset);
    }
    if (word[0] >= 'A' && word[0] <= 'Z') {
      unexpected(t);
      return 0;
    }
    return parse_path();
  }

  // call := Name "(" [or_expr ("," or_expr)*] ")"
  std::uint32_t parse_call() {
    const Token& name_tok = next();
    const std::string name(token_text(name_tok));
    next();  // (
    Node node;
    node.kind = NodeKind::kCall;
    node.offset = name_tok.begin;
    if (peek().kind != Tok::kRParen) {
      while (!syntax_) {
        node.children.push_back(parse_or());
        if (syntax_ || peek().kind != Tok::kComma) break;
        next();
      }
    }
    if (!expect(Tok::kRParen)) return 0;
    const FnDef* def = nullptr;
    for (const FnDef& f : kFunctions) {
      if (f.name == name) def = &f;
    }
    if (def == nullptr) {
      names_.push_back({node.offset, "unsupported function " + name + " (supported: " +
                                         std::string(kSupportedFunctions) + ")"});
      return add(std::move(node));
    }
    node.fn = def->fn;
    if (node.children.size() != def->arity) {
      names_.push_back({node.offset, name + " takes " + std::to_string(def->arity) +
                                         (def->arity == 1 ? " argument" : " arguments") + ", got " +
                                         std::to_string(node.children.size())});
      return add(std::move(node));
    }
    if (def->fn == Fn::kIsMatch) {
      const Node& pattern = impl_.nodes[node.children[1]];
      if (pattern.kind != NodeKind::kLiteral || pattern.literal.type != Type::kString) {
        names_.push_back({pattern.offset, "IsMatch's pattern must be a string literal"});
        return add(std::move(node));
      }
      RE2::Options options;
      options.set_log_errors(false);
      node.re = std::make_unique<re2::RE2>(pattern.text, options);
      if (!node.re->ok()) {
        names_.push_back({pattern.offset, "invalid IsMatch pattern \"" + pattern.text + "\": " + node.re->error()});
      }
    }
    return add(std::move(node));
  }

  // path := ident ("." ident)* ("[" (string | int) "]")*
  std::uint32_t parse_path() {
    Node node;
    node.kind = NodeKind::kPath;
    node.offset = peek().begin;
    std::vector<std::string_view> segments{token_text(next())};
    while (peek().kind == Tok::kDot) {
      next();
      if (peek().kind != Tok::kIdent) {
        unexpected(peek());
        return 0;
      }
      segments.push_back(token_text(next()));
    }
    while (peek().kind == Tok::kLBracket) {
      next();
      Key key;
      const Token& k = peek();
      if (k.kind == Tok::kString) {
        key.name = k.value;
      } else if (k.kind == Tok::kInt) {
        std::int64_t index = 0;
        const std::string_view s = token_text(k);
        auto r = std::from_chars(s.data(), s.data() + s.size(), index);
        if (r.ec != std::errc()) {
          fail(k.begin, "index out of range");
          return 0;
        }
        key.is_index = true;
        key.index = index;
      } else {
        unexpected(k);
        return 0;
      }
      next();
      if (!expect(Tok::kRBracket)) return 0;
      node.keys.push_back(std::move(key));
    }
    resolve_path(node, segments);
    return add(std::move(node));
  }

  void resolve_path(Node& node, std::vector<std::string_view> segments) {
    const std::string_view own = context_name(context_);
    const std::string_view other = context_ == Context::kLog ? "span" : "log";
    std::string written;
    for (std::string_view s : segments) {
      if (!written.empty()) written += '.';
      written += s;
    }
    if (segments.size() > 1 && segments[0] == other) {
      names_.push_back({node.offset, "path " + written + " is not valid in the " + std::string(own) + " context"});
      return;
    }
    // OTTL's context-qualified form: `log.body` in the log context, `span.name` in the span context.
    if (segments.size() > 1 && segments[0] == own) segments.erase(segments.begin());
    std::string name;
    for (std::string_view s : segments) {
      if (!name.empty()) name += '.';
      name += s;
    }
    const PathDef* def = nullptr;
    for (const PathDef& p : kPaths) {
      if (p.name == name) def = &p;
    }
    if (def == nullptr) {
      names_.push_back({node.offset, "unknown path " + written + " (" + std::string(own) +
                                         " context paths: " + path_list(context_) + ")"});
      return;
    }
    if ((def->contexts & context_bit(context_)) == 0) {
      names_.push_back({node.offset, "path " + written + " is not valid in the " + std::string(own) +
                                         " context (it is a " + std::string(other) + " path)"});
      return;
    }
    if (def->keys == Keys::kNone && !node.keys.empty()) {
      names_.push_back({node.offset, "path " + written + " takes no key"});
      return;
    }
    if (def->keys == Keys::kStringFirst && (node.keys.empty() || node.keys[0].is_index)) {
      names_.push_back({node.offset, "path " + written + " needs a string key, as in " + written + "[\"name\"]"});
      return;
    }
    node.field = def->field;
  }

  // Children precede parents in impl_.nodes, so one forward pass gives every node's height.
  std::optional<Problem> check_depth() const {
    std::vector<int> height(impl_.nodes.size(), 1);
    for (std::size_t i = 0; i < impl_.nodes.size(); ++i) {
      for (std::uint32_t c : impl_.nodes[i].children) height[i] = std::max(height[i], height[c] + 1);
      if (height[i] > detail::kMaxDepth) {
        return Problem{impl_.nodes[i].offset,
                       "expression nested too deeply (more than " + std::to_string(detail::kMaxDepth) + " levels)"};
      }
    }
    return std::nullopt;
  }

  std::string_view text_;
  Context context_;
  Expression::Impl& impl_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::optional<Problem> syntax_;
  std::vector<Problem> names_;
};

// "OTTL: <message> at column N in '<text>'" (line and column when the text has several lines).
std::string render(std::string_view text, const Problem& p) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < p.offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string where = line > 1 || text.find('\n') != std::string_view::npos
                          ? "line " + std::to_string(line) + ", column " + std::to_string(column)
                          : "column " + std::to_string(column);
  constexpr std::size_t kShown = 200;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  return "OTTL: " + p.message + " at " + where + " in '" + shown + "'";
}

}  // namespace

Expression::Expression(std::string text, Context context, std::unique_ptr<Impl> impl)
    : text_(std::move(text)), context_(context), impl_(std::move(impl)) {}
Expression::~Expression() = default;

std::unique_ptr<Expression> Expression::compile(std::string_view text, Context context, const config::Location& where,
                                                const std::string& component, config::Errors& errors) {
  auto impl = std::make_unique<Impl>();
  impl->context = context;
  Parser parser(text, context, *impl);
  const std::vector<Problem> problems = parser.run();
  if (!problems.empty()) {
    const bool one_line = text.find('\n') == std::string_view::npos;
    for (const Problem& p : problems) {
      config::Location at = where;
      if (one_line && at.column > 0) at.column += static_cast<int>(p.offset);
      errors.push_back({std::move(at), component, render(text, p)});
    }
    return nullptr;
  }
  return std::unique_ptr<Expression>(new Expression(std::string(text), context, std::move(impl)));
}

bool Expression::is_path() const { return impl_->nodes[impl_->root].kind == detail::NodeKind::kPath; }

namespace {

// The guard of node `i` (see Expression::attribute_guard).
std::optional<AttributeGuard> guard_of(const std::vector<Node>& nodes, std::uint32_t i) {
  const Node& n = nodes[i];
  switch (n.kind) {
    case NodeKind::kCompare: {
      if (n.cmp != CmpOp::kEq) return std::nullopt;
      const Node* path = &nodes[n.children[0]];
      const Node* lit = &nodes[n.children[1]];
      if (path->kind == NodeKind::kLiteral) std::swap(path, lit);
      const bool plain_attribute = path->kind == NodeKind::kPath && path->field == Field::kAttributes &&
                                   path->keys.size() == 1 && !path->keys[0].is_index;
      if (!plain_attribute || lit->kind != NodeKind::kLiteral || lit->literal.type != Type::kString) return std::nullopt;
      return AttributeGuard{path->keys[0].name, {lit->text}, true};
    }
    case NodeKind::kAnd:
      for (std::uint32_t c : n.children) {
        if (auto g = guard_of(nodes, c)) {
          g->exact = false;  // the other conjuncts still decide
          return g;
        }
      }
      return std::nullopt;
    case NodeKind::kOr: {
      std::optional<AttributeGuard> out;
      for (std::uint32_t c : n.children) {
        auto g = guard_of(nodes, c);
        if (!g || (out && g->key != out->key)) return std::nullopt;
        if (!g->exact) return std::nullopt;  // (a and b) or c: no single attribute decides
        if (!out) {
          out = std::move(g);
        } else {
          out->values.insert(out->values.end(), g->values.begin(), g->values.end());
        }
      }
      return out;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<AttributeGuard> Expression::attribute_guard() const { return guard_of(impl_->nodes, impl_->root); }

}  // namespace vigil::ottl
