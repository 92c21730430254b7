// The container parser: docker json-file and CRI (containerd, CRI-O) lines, partial lines
// recombined per stream, Kubernetes metadata from the pod log path.
//
// Partial lines (CRI `P`, docker `log` without a final "\n", i.e. the runtimes' 16 KiB splits) are
// held in the file's ContainerState, one group per stream, so stdout and stderr fragments that
// interleave are joined correctly; the Collector joins per file. A group is emitted by its final
// fragment, by flush() (end of file) or by flush_expired() after kForceFlushPeriod.
#include <array>
#include <memory>

#include "collectors/filelog/operators/internal.hpp"
#include "collectors/filelog/operators/json_reader.hpp"

namespace vigil::collectors::filelog::ops {
namespace {

// How long a partial line may wait for its rest (the Collector's internal recombine default).
constexpr std::uint64_t kForceFlushPeriod = 5'000'000'000ULL;
// A group's text buffer keeps its capacity between groups up to this size.
constexpr std::size_t kKeepTextCapacity = 16 * 1024;

enum class Format : std::uint8_t { kAuto, kDocker, kCri };
enum Stream : std::uint8_t { kStdout, kStderr };
constexpr std::array<std::string_view, 2> kStreamNames = {"stdout", "stderr"};

constexpr std::array<std::string_view, 5> kK8sKeys = {"k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid",
                                                      "k8s.container.name", "k8s.container.restart_count"};
using Spans = std::array<std::pair<std::size_t, std::size_t>, 5>;  // (offset, length) in the path

// .../<namespace>_<pod>_<uid>/<container>/<restart>.log, as the Collector's pattern.
bool parse_pod_path(std::string_view path, Spans& spans) {
  auto is_sep = [](char c) { return c == '/' || c == '\\'; };
  if (path.size() < 4 || path.substr(path.size() - 4) != ".log") return false;
  std::size_t end = path.size() - 4;
  // restart count
  std::size_t i = end;
  while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9') --i;
  if (i == end || i == 0 || !is_sep(path[i - 1])) return false;
  spans[4] = {i, end - i};
  // container name: no '.', no '_'
  end = i - 1;
  i = end;
  while (i > 0 && !is_sep(path[i - 1])) {
    if (path[i - 1] == '.' || path[i - 1] == '_') return false;
    --i;
  }
  if (i == end || i == 0) return false;
  spans[3] = {i, end - i};
  // <namespace>_<pod>_<uid>
  end = i - 1;
  i = end;
  while (i > 0 && !is_sep(path[i - 1])) --i;
  if (i == 0) return false;  // needs a separator before it
  const std::string_view dir = path.substr(i, end - i);
  const std::size_t u1 = dir.find('_');
  const std::size_t u2 = u1 == std::string_view::npos ? u1 : dir.find('_', u1 + 1);
  if (u1 == 0 || u2 == std::string_view::npos || u2 == u1 + 1 ||
      dir.find('_', u2 + 1) != std::string_view::npos || u2 + 1 == dir.size()) {
    return false;
  }
  for (char c : dir.substr(u2 + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) return false;
  }
  spans[0] = {i, u1};
  spans[1] = {i + u1 + 1, u2 - u1 - 1};
  spans[2] = {i + u2 + 1, dir.size() - u2 - 1};
  return true;
}

// One stream's partial line being put together.
struct Partial {
  bool active = false;
  std::string text;
  HoldArena arena;
  Entry held;  // the first fragment's entry, parsed, in `arena`
  std::uint64_t since = 0;
};

class ContainerState final : public OperatorState {
 public:
  std::optional<std::uint64_t> held_since() const override {
    std::optional<std::uint64_t> min;
    for (const Partial& p : partial) {
      if (p.active && (!min || p.held.offset < *min)) min = p.held.offset;
    }
    return min;
  }

  std::array<Partial, 2> partial;
  // The file path's k8s metadata, parsed once per path.
  std::string path;
  bool path_parsed = false;
  bool path_ok = false;
  Spans spans{};
};

// What one line says.
struct Line {
  Stream stream = kStdout;
  bool partial = false;
  std::string_view message;
  std::string_view logtag;  // CRI only
  std::uint64_t time = 0;
  bool docker = false;
};

class Container final : public OperatorBase {
 public:
  Container(const OpConfig& cfg, Format format, bool add_metadata, std::uint64_t max_log_size, Field from,
            Embedded embedded, bool in_place)
      : OperatorBase(cfg),
        format_(format),
        add_metadata_(add_metadata),
        max_log_size_(max_log_size),
        from_(std::move(from)),
        embedded_(std::move(embedded)),
        in_place_(in_place),
        reader_(JsonReader::Options{true, true}) {}

  std::unique_ptr<OperatorState> make_state() const override { return std::make_unique<ContainerState>(); }

  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    const model::AnyValue* v = find_value(entry, from_);
    if (v == nullptr) return fail(ctx, index, entry, "no field ", from_.text);
    if (!is_text(*v)) return fail(ctx, index, entry, "value is not a string");
    const std::string_view text = v->string_value();
    const Format format = format_ != Format::kAuto          ? format_
                          : !text.empty() && text[0] == '{' ? Format::kDocker
                                                            : Format::kCri;
    Line line;
    const char* error = format == Format::kDocker ? parse_docker(ctx, text, line) : parse_cri(text, line);
    if (error != nullptr) return fail(ctx, index, entry, error);

    ContainerState* state = state_of(ctx, index);
    Partial* group = state != nullptr ? &state->partial[line.stream] : nullptr;
    if (group != nullptr && group->active) {
      // A continuation: its own entry is not passed on, only its text joins the group.
      if (append(ctx, index, *group, line.message) && !line.partial) emit(ctx, index, *group, false);
      return;
    }
    if (!prepare(ctx, entry, line, state)) return;  // dropped (on_error drop)
    if (line.partial && group != nullptr) {
      group->held = copy_entry(group->arena.get(), entry);
      group->text.clear();
      group->active = true;
      group->since = ctx.now_unix_nano;
      append(ctx, index, *group, line.message);
      return;
    }
    entry.record.body = model::AnyValue::string(line.message);
    finish(ctx, index, entry);
  }

  void flush(Context& ctx, std::size_t index) const override {
    ContainerState* state = state_of(ctx, index);
    if (state == nullptr) return;
    // Oldest first, so the order of the file is kept.
    Partial& a = state->partial[kStdout];
    Partial& b = state->partial[kStderr];
    const bool b_first = b.active && (!a.active || b.held.offset < a.held.offset);
    for (Partial* p : {b_first ? &b : &a, b_first ? &a : &b}) {
      if (p->active) emit(ctx, index, *p, false);
    }
  }

  void flush_expired(Context& ctx, std::size_t index, std::uint64_t now_unix_nano) const override {
    ContainerState* state = state_of(ctx, index);
    if (state == nullptr) return;
    for (Partial& p : state->partial) {
      if (p.active && now_unix_nano >= p.since + kForceFlushPeriod) emit(ctx, index, p, false);
    }
  }

 private:
  static ContainerState* state_of(Context& ctx, std::size_t index) {
    if (index >= ctx.state.slots.size()) return nullptr;
    return static_cast<ContainerState*>(ctx.state.slots[index].get());
  }

  // {"log":"...","stream":"stdout","time":"..."}; other keys become attributes.
  const char* parse_docker(Context& ctx, std::string_view text, Line& line) const {
    const char* error = nullptr;
    if (!reader_.parse_object(ctx.arena, text, in_place_, error)) return error;
    bool has_log = false;
    bool has_stream = false;
    bool has_time = false;
    for (std::size_t i = 0; i < reader_.size(); ++i) {
      const model::KeyValue& kv = reader_.members()[i];
      if (kv.key == "log" && kv.value.type() == model::ValueType::kString) {
        line.message = kv.value.string_value();
        has_log = true;
      } else if (kv.key == "stream" && kv.value.type() == model::ValueType::kString) {
        const std::string_view s = kv.value.string_value();
        if (s != kStreamNames[kStdout] && s != kStreamNames[kStderr]) return "docker: unknown stream";
        line.stream = s == kStreamNames[kStdout] ? kStdout : kStderr;
        has_stream = true;
      } else if (kv.key == "time" && kv.value.type() == model::ValueType::kString) {
        if (!parse_rfc3339(kv.value.string_value(), line.time)) return "docker: invalid time";
        has_time = true;
      }
    }
    if (!has_log || !has_stream || !has_time) return "docker: log, stream or time missing";
    // The runtime splits lines at 16 KiB; only the last piece ends with the newline.
    line.partial = line.message.empty() || line.message.back() != '\n';
    if (!line.partial) {
      line.message.remove_suffix(1);
      if (!line.message.empty() && line.message.back() == '\r') line.message.remove_suffix(1);
    }
    line.docker = true;
    return nullptr;
  }

  // <RFC 3339 time> <stdout|stderr> <P|F>[:more tags] <text>
  static const char* parse_cri(std::string_view text, Line& line) {
    const std::size_t s1 = text.find(' ');
    if (s1 == std::string_view::npos) return "not a CRI or docker log line";
    if (!parse_rfc3339(text.substr(0, s1), line.time)) return "not a CRI or docker log line";
    const std::size_t s2 = text.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return "not a CRI or docker log line";
    const std::string_view stream = text.substr(s1 + 1, s2 - s1 - 1);
    if (stream == kStreamNames[kStdout]) {
      line.stream = kStdout;
    } else if (stream == kStreamNames[kStderr]) {
      line.stream = kStderr;
    } else {
      return "CRI: unknown stream";
    }
    const std::size_t s3 = text.find(' ', s2 + 1);
    line.logtag = text.substr(s2 + 1, s3 == std::string_view::npos ? std::string_view::npos : s3 - s2 - 1);
    line.message = s3 == std::string_view::npos ? std::string_view() : text.substr(s3 + 1);
    line.partial = line.logtag == "P" || line.logtag.substr(0, 2) == "P:";
    return nullptr;
  }

  // Sets time, attributes and resource. False when the entry was dropped.
  bool prepare(Context& ctx, Entry& entry, const Line& line, ContainerState* state) const {
    entry.record.time_unix_nano = line.time;
    model::Attributes& attrs = entry.record.attributes;
    if (line.docker) {
      for (std::size_t i = 0; i < reader_.size(); ++i) {
        const model::KeyValue& kv = reader_.members()[i];
        if (kv.key != "log" && kv.key != "stream" && kv.key != "time")
          model::set_attribute(ctx.arena, attrs, kv.key, kv.value);
      }
    } else {
      model::set_attribute(ctx.arena, attrs, "logtag", model::AnyValue::string(line.logtag));
    }
    model::set_attribute(ctx.arena, attrs, "log.iostream",
                         model::AnyValue::string(kStreamNames[line.stream]));
    if (!add_metadata_) return true;
    std::string_view path = ctx.file_path;
    if (path.empty()) {
      if (const model::AnyValue* p = model::find_attribute(attrs, "log.file.path");
          p != nullptr && is_text(*p)) {
        path = p->string_value();
      }
    }
    Spans local{};
    const Spans* spans = &local;
    bool ok = false;
    if (state != nullptr) {
      if (!state->path_parsed || state->path != path) {
        state->path.assign(path);
        state->path_ok = parse_pod_path(state->path, state->spans);
        state->path_parsed = true;
      }
      ok = state->path_ok;
      spans = &state->spans;
    } else {
      ok = parse_pod_path(path, local);
    }
    if (!ok) {
      if (drops_on_error()) {
        ++ctx.stats.parse_errors;
        return false;
      }
      mark(ctx, entry, "no k8s metadata in the file path (set add_metadata_from_filepath: false?)");
      return true;
    }
    const std::string_view copy = ctx.arena.copy(path);
    for (std::size_t i = 0; i < kK8sKeys.size(); ++i) {
      model::set_attribute(ctx.arena, entry.resource, kK8sKeys[i],
                           model::AnyValue::string(copy.substr((*spans)[i].first, (*spans)[i].second)));
    }
    return true;
  }

  // Adds a fragment's text to a group, within max_log_size. Cut at the limit, the group is emitted
  // at once (truncated, counted); returns false then.
  bool append(Context& ctx, std::size_t index, Partial& group, std::string_view text) const {
    if (max_log_size_ != 0 && group.text.size() + text.size() > max_log_size_) {
      group.text.append(text.substr(0, static_cast<std::size_t>(max_log_size_ - group.text.size())));
      ++ctx.stats.truncated;
      emit(ctx, index, group, true);
      return false;
    }
    group.text.append(text);
    return true;
  }

  void emit(Context& ctx, std::size_t index, Partial& group, bool truncated) const {
    Entry out = copy_entry(ctx.arena, group.held);
    out.record.body = model::AnyValue::string(copy_padded(ctx.arena, group.text));
    if (model::find_attribute(out.record.attributes, "logtag") != nullptr) {
      model::set_attribute(ctx.arena, out.record.attributes, "logtag", model::AnyValue::string("F"));
    }
    if (truncated)
      model::set_attribute(ctx.arena, out.record.attributes, kTruncatedAttribute,
                           model::AnyValue::boolean(true));
    group.active = false;
    group.held = Entry();
    group.text.clear();
    if (group.text.capacity() > kKeepTextCapacity) std::string().swap(group.text);
    group.arena.recycle();
    finish(ctx, index, out);
  }

  void finish(Context& ctx, std::size_t index, Entry& entry) const {
    if (const Failure f = embedded_.apply(ctx, entry)) return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

  Format format_;
  bool add_metadata_;
  std::uint64_t max_log_size_;
  Field from_;
  Embedded embedded_;
  bool in_place_;
  mutable JsonReader reader_;
};

}  // namespace

std::unique_ptr<Operator> build_container(OpConfig& cfg) {
  cfg.validate(
      {
          config::opt_string("format", "auto", "docker, crio, containerd, or auto (detect per line).",
                             {"", "auto", "docker", "crio", "containerd"}),
          config::opt_bool("add_metadata_from_filepath", true,
                           "Set k8s.* resource attributes from the pod log path."),
          config::opt_any("max_log_size", "Largest recombined line (bytes, or 1MiB...); 0: no limit."),
          config::opt_string("parse_from", "body", "The field holding the line."),
          config::opt_string("parse_to", "attributes", "Only `attributes`."),
          severity_option(),
      },
      {{"timestamp", "'timestamp' is not supported for container: the runtime's time is the record's time"}});
  auto from = cfg.field("parse_from", "body");
  if (const config::Value* to = cfg.raw("parse_to");
      to != nullptr && to->is_scalar() && to->scalar != "attributes") {
    cfg.error(to->location, "'parse_to': the container parser writes attributes only");
  }
  const std::uint64_t max_log_size = cfg.byte_size("max_log_size", 0);
  Embedded embedded;
  embedded.configure(cfg, false);
  if (!cfg.ok() || !from) return nullptr;
  const std::string f = cfg.get_string("format");
  const Format format = f == "docker"                        ? Format::kDocker
                        : (f == "crio" || f == "containerd") ? Format::kCri
                                                             : Format::kAuto;
  // The body after this operator is a view of the (padded or not) input, or a padded copy.
  const bool in_place = cfg.build().body_padded && from->is_body();
  return std::make_unique<Container>(cfg, format, cfg.get_bool("add_metadata_from_filepath"), max_log_size,
                                     std::move(*from), std::move(embedded), in_place);
}

}  // namespace vigil::collectors::filelog::ops
