#include "collectors/filelog/filelog_receiver.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include "agent/model/batch.hpp"
#include "agent/telemetry/log.hpp"
#include "collectors/filelog/operators/common.hpp"

namespace vigil::collectors {

static_assert(filelog::kInputPadding <= filelog::kLinePadding,
              "the tailer leaves the padding the JSON parser reads past a line");

using component::Status;
using model::Signal;

namespace {

constexpr std::string_view kType = "filelog";
constexpr std::string_view kCheckpointKey = "checkpoint";

std::uint64_t unix_nanos_now() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

bool same_value(const model::AnyValue& a, const model::AnyValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case model::ValueType::kEmpty: return true;
    case model::ValueType::kString:
    case model::ValueType::kBytes: return a.string_value() == b.string_value();
    case model::ValueType::kBool: return a.bool_value() == b.bool_value();
    case model::ValueType::kInt: return a.int_value() == b.int_value();
    case model::ValueType::kDouble: return a.double_value() == b.double_value();
    case model::ValueType::kArray:
      if (a.size() != b.size()) return false;
      for (std::uint32_t i = 0; i < a.size(); ++i)
        if (!same_value(a.array_begin()[i], b.array_begin()[i])) return false;
      return true;
    case model::ValueType::kKvList:
      if (a.size() != b.size()) return false;
      for (std::uint32_t i = 0; i < a.size(); ++i) {
        if (a.kvlist_begin()[i].key != b.kvlist_begin()[i].key) return false;
        if (!same_value(a.kvlist_begin()[i].value, b.kvlist_begin()[i].value)) return false;
      }
      return true;
  }
  return false;
}

// Resources are grouped when their attributes are equal in the same order (operators add them in
// a fixed order, so equal resources from one file always compare equal).
bool same_attributes(const model::Attributes& a, const model::Attributes& b) {
  if (a.size() != b.size()) return false;
  if (a.data() == b.data()) return true;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || !same_value(a[i].value, b[i].value)) return false;
  }
  return true;
}

}  // namespace

// ---- the reader thread ---------------------------------------------------------------------------

class FilelogReceiver::Reader final : public filelog::LineSink {
 public:
  Reader(std::string id, const FilelogOptions& options, std::vector<std::unique_ptr<filelog::Operator>> ops,
         component::Consumer& next, telemetry::Telemetry& telemetry)
      : id_(std::move(id)),
        options_(options),
        tailer_(options.tailer),
        next_(next),
        metrics_(telemetry.receiver(id_, Signal::kLogs, "file")) {
    chain_ = filelog::Chain(std::move(ops), [this](filelog::Context& ctx, filelog::Entry& e) { append(ctx, e); });
    auto counter = [&](const std::string& name, const std::string& help) {
      return &telemetry.counter_family(name, help).Add({{"receiver", id_}});
    };
    c_bytes_ = counter("vigil_filelog_read_bytes_total", "Bytes of log lines read from files.");
    c_lines_ = counter("vigil_filelog_read_lines_total", "Lines (or multiline records) cut from files.");
    c_truncated_ = counter("vigil_filelog_truncated_lines_total",
                           "Lines longer than max_log_size, cut there (the record has vigil.truncated=true).");
    c_invalid_utf8_ = counter("vigil_filelog_invalid_utf8_total",
                              "Invalid UTF-8 sequences replaced by U+FFFD (encoding: utf-8).");
    c_rotations_ = counter("vigil_filelog_rotations_total", "Files rotated by rename and create.");
    c_truncations_ = counter("vigil_filelog_file_truncations_total",
                             "Files truncated (copy-and-truncate or in place) and read again from the start.");
    c_open_errors_ = counter("vigil_filelog_open_errors_total", "Files that could not be opened or read.");
    c_skipped_ = counter("vigil_filelog_files_skipped_total",
                         "Polls in which a file waited because max_concurrent_files were open.");
    c_parse_errors_ = counter("vigil_filelog_parse_errors_total",
                              "Entries an operator could not parse (kept with vigil.parse_error, or dropped "
                              "with on_error: drop).");
    c_checkpoint_errors_ = counter("vigil_filelog_checkpoint_errors_total",
                                   "Checkpoints that could not be read or written.");
    g_open_files_ = &telemetry.gauge_family("vigil_filelog_open_files", "Files the receiver holds open.")
                         .Add({{"receiver", id_}});
    build_templates_for_batch();
  }

  void set_storage(component::StorageClient* storage) { storage_ = storage; }

  void restore_checkpoint() {
    if (storage_ == nullptr) return;
    std::optional<std::string> data;
    Status st = storage_->get(kCheckpointKey, data);
    if (!st.is_ok()) {
      c_checkpoint_errors_->Increment();
      telemetry::log(telemetry::Level::kWarn, id_,
                     "cannot read the checkpoint (" + st.message() + "); files are read from start_at");
      return;
    }
    if (!data) return;
    std::vector<filelog::FileCheckpoint> files;
    std::string error;
    if (!filelog::decode_checkpoint(*data, files, error)) {
      c_checkpoint_errors_->Increment();
      telemetry::log(telemetry::Level::kWarn, id_,
                     "the checkpoint is damaged (" + error + "); files are read from start_at");
      return;
    }
    telemetry::log(telemetry::Level::kInfo, id_,
                   "resuming " + std::to_string(files.size()) + " file(s) from the checkpoint");
    tailer_.restore(std::move(files));
  }

  void run(const std::atomic<bool>& stop, std::mutex& mu, std::condition_variable& cv) {
    using Clock = std::chrono::steady_clock;
    auto next_poll = Clock::now();
    auto last_checkpoint = Clock::now();
    std::chrono::milliseconds backoff{0};
    while (!stop.load(std::memory_order_acquire)) {
      auto now = Clock::now();
      if (now >= next_poll) {
        tailer_.poll_files();
        flush_expired();
        next_poll = now + options_.poll_interval;
      }
      const std::size_t room_records =
          options_.max_batch_records > batch_records_ ? options_.max_batch_records - batch_records_ : 0;
      const std::size_t room_bytes =
          options_.max_batch_bytes > batch_bytes_ ? options_.max_batch_bytes - batch_bytes_ : 0;
      std::size_t lines = 0;
      if (room_records > 0 && room_bytes > 0) {
        const std::uint64_t before = tailer_.stats().bytes;
        lines = tailer_.read(*this, room_records, room_bytes, now);
        batch_bytes_ += tailer_.stats().bytes - before;
      }
      const bool full = batch_records_ >= options_.max_batch_records || batch_bytes_ >= options_.max_batch_bytes;
      if (full || lines == 0) {
        Status st = emit();
        if (st.is_retryable()) {
          // Backpressure: everything since the last commit is read again later; wait first.
          backoff = std::clamp(backoff * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
          auto wait = std::max(backoff, st.retry_after());
          std::unique_lock lock(mu);
          cv.wait_for(lock, wait, [&] { return stop.load(std::memory_order_acquire); });
          continue;
        }
        backoff = std::chrono::milliseconds(0);
        if (storage_ != nullptr && dirty_ && Clock::now() - last_checkpoint >= options_.checkpoint_interval) {
          save_checkpoint();
          last_checkpoint = Clock::now();
        }
      }
      update_metrics();
      if (lines == 0) {
        std::unique_lock lock(mu);
        cv.wait_until(lock, next_poll, [&] { return stop.load(std::memory_order_acquire); });
      }
    }
    // Shutdown: what the operators hold goes out with the last batch, then the checkpoint.
    for (auto& weak : states_) {
      if (auto state = weak.lock()) {
        filelog::Context ctx = context(*state);
        chain_.flush(ctx);
        if (state->source != nullptr) state->source->held_since = state->chain.held_since();
      }
    }
    Status st = emit();
    if (!st.is_ok() && !st.is_permanent()) {
      telemetry::log(telemetry::Level::kWarn, id_,
                     "the pipeline refused the last batch at shutdown; it is read again at the next start");
    }
    if (storage_ != nullptr) save_checkpoint();
    update_metrics();
  }

  // LineSink: one line becomes one entry, run through the operators into the batch.
  void on_line(filelog::FileSource& file, const filelog::Line& line) override {
    FileState& state = state_of(file);
    model::Arena& arena = batch_.arena();
    if (state.generation != generation_) {
      // Once per file and batch: the file's attributes, copied into this batch's arena.
      model::Attributes attrs;
      attrs.reserve(arena, 2 + options_.attributes.size());
      if (options_.include_file_name)
        attrs.push_back(arena, {"log.file.name", model::AnyValue::string(arena.copy(file.name))});
      if (options_.include_file_path)
        attrs.push_back(arena, {"log.file.path", model::AnyValue::string(arena.copy(file.path))});
      for (const model::KeyValue& kv : attributes_template_) attrs.push_back(arena, kv);
      state.attributes.assign(arena, attrs.data(), attrs.size());
      state.path_view = arena.copy(file.path);
      state.generation = generation_;
    }
    filelog::Entry entry;
    entry.offset = line.offset;
    entry.record.observed_time_unix_nano = now_nanos_;
    entry.record.body = options_.body_as_bytes ? model::AnyValue::bytes(line.text)
                                                          : model::AnyValue::string(line.text);
    // Room for what parsers add, so most records never reallocate their attributes.
    entry.record.attributes.reserve(arena, state.attributes.size() + 12);
    for (const model::KeyValue& kv : state.attributes) entry.record.attributes.push_back(arena, kv);
    if (line.truncated) entry.record.attributes.push_back(arena, {filelog::kTruncatedAttribute, model::AnyValue::boolean(true)});
    // Operators may replace a resource attribute in place, so a non-empty template is copied;
    // an empty one costs nothing (the first push reallocates).
    if (resource_template_.empty()) {
      entry.resource = {};
    } else {
      entry.resource.reserve(arena, resource_template_.size() + 6);
      for (const model::KeyValue& kv : resource_template_) entry.resource.push_back(arena, kv);
    }
    filelog::Context ctx{arena, state.chain, op_stats_, chain_, state.path_view, now_nanos_};
    chain_.process(ctx, entry);
    file.held_since = state.chain.held_since();
  }

  void on_reset(filelog::FileSource& file) override {
    // Rewound or new: what the operators held is read again from the file.
    file.user.reset();
    file.held_since.reset();
  }

  void on_finished(filelog::FileSource& file) override {
    if (!file.user) return;
    FileState& state = state_of(file);
    filelog::Context ctx = context(state);
    chain_.flush(ctx);
    file.held_since = state.chain.held_since();
  }

 private:
  struct FileState {
    filelog::ChainState chain;
    filelog::FileSource* source = nullptr;  // the source owns this state, so it outlives it
    std::string path;
    std::uint64_t generation = std::numeric_limits<std::uint64_t>::max();
    model::Attributes attributes;  // in the current batch's arena, capacity == size
    std::string_view path_view;    // in the current batch's arena
  };

  FileState& state_of(filelog::FileSource& file) {
    if (!file.user) {
      auto state = std::make_shared<FileState>();
      state->chain = chain_.make_state();
      state->path = file.path;
      states_.push_back(state);
      file.user = state;
    }
    auto* state = static_cast<FileState*>(file.user.get());
    state->source = &file;
    return *state;
  }

  filelog::Context context(FileState& state) {
    model::Arena& arena = batch_.arena();
    if (state.generation != generation_) {
      state.path_view = arena.copy(state.path);
      state.attributes = {};
      state.generation = std::numeric_limits<std::uint64_t>::max();  // attributes rebuilt on the next line
    }
    return filelog::Context{arena, state.chain, op_stats_, chain_, state.path_view, unix_nanos_now()};
  }

  void flush_expired() {
    const std::uint64_t now = unix_nanos_now();
    now_nanos_ = now;
    std::erase_if(states_, [](const std::weak_ptr<FileState>& w) { return w.expired(); });
    for (auto& weak : states_) {
      auto state = weak.lock();
      if (!state) continue;
      filelog::Context ctx = context(*state);
      chain_.flush_expired(ctx, now);
      if (state->source != nullptr) state->source->held_since = state->chain.held_since();
    }
  }

  // The chain's last step: the entry joins the batch, grouped by resource.
  void append(filelog::Context& ctx, filelog::Entry& e) {
    model::Arena& arena = ctx.arena;
    auto& rls = batch_.resource_logs();
    if (rls.empty() || !same_attributes(rls.back().resource.attributes, e.resource)) {
      model::ResourceLogs& rl = rls.emplace_back(arena);
      rl.resource.attributes = e.resource;
      // Most batches hold one resource: room for a whole batch at once, not doubling copies.
      rl.scope_logs.emplace_back(arena).log_records.reserve(arena, rls.size() == 1 ? options_.max_batch_records : 64);
    }
    rls.back().scope_logs.back().log_records.push_back(arena, e.record);
    ++batch_records_;
  }

  // Hands the batch to the pipeline and moves the files' positions by its answer.
  Status emit() {
    now_nanos_ = unix_nanos_now();
    for (std::string& buffer : tailer_.take_buffers()) batch_.arena().adopt(std::move(buffer));
    const std::size_t items = batch_records_;
    Status st;
    if (items != 0) {
      model::Batch batch = std::exchange(batch_, model::Batch(Signal::kLogs));
      st = next_.consume(std::move(batch));
    }
    new_batch();
    if (st.is_retryable()) {
      metrics_.refused->Increment(static_cast<double>(items));
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/busy", id_,
                             "the pipeline refused " + std::to_string(items) +
                                 " log records for now; reading pauses and resumes from the last commit: " +
                                 st.message());
      tailer_.rewind(*this);
      return st;
    }
    if (st.is_permanent()) {
      metrics_.refused->Increment(static_cast<double>(items));
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/rejected", id_,
                             "the pipeline rejected " + std::to_string(items) + " log records: " + st.message());
    } else if (items != 0) {
      metrics_.accepted->Increment(static_cast<double>(items));
    }
    tailer_.commit(*this);
    dirty_ = true;
    return st;
  }

  void new_batch() {
    if (batch_records_ != 0 || batch_.arena().reserved_bytes() != 0) batch_ = model::Batch(Signal::kLogs);
    batch_records_ = 0;
    batch_bytes_ = 0;
    ++generation_;
    build_templates_for_batch();
  }

  // Configured attributes and resource attributes, once per batch in its arena (capacity ==
  // size, so an operator adding to a record's copy reallocates instead of writing shared storage).
  void build_templates_for_batch() {
    model::Arena& arena = batch_.arena();
    attributes_template_ = {};
    for (const auto& [k, v] : options_.attributes)
      attributes_template_.push_back(arena, {arena.copy(k), model::AnyValue::string(arena.copy(v))});
    model::Attributes res;
    for (const auto& [k, v] : options_.resource)
      res.push_back(arena, {arena.copy(k), model::AnyValue::string(arena.copy(v))});
    resource_template_ = {};
    resource_template_.assign(arena, res.data(), res.size());
  }

  void save_checkpoint() {
    dirty_ = false;
    Status st = storage_->set(kCheckpointKey, filelog::encode_checkpoint(tailer_.checkpoint()));
    if (!st.is_ok()) {
      c_checkpoint_errors_->Increment();
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/checkpoint", id_,
                             "cannot write the checkpoint: " + st.message());
    }
  }

  void update_metrics() {
    const filelog::TailerStats& s = tailer_.stats();
    auto bump = [](prometheus::Counter* c, std::uint64_t now, std::uint64_t& last) {
      if (now > last) c->Increment(static_cast<double>(now - last));
      last = now;
    };
    bump(c_bytes_, s.bytes, last_.bytes);
    bump(c_lines_, s.lines, last_.lines);
    bump(c_truncated_, s.truncated_lines, last_.truncated_lines);
    bump(c_invalid_utf8_, s.invalid_utf8, last_.invalid_utf8);
    bump(c_rotations_, s.rotations, last_.rotations);
    bump(c_truncations_, s.truncations, last_.truncations);
    bump(c_open_errors_, s.open_errors, last_.open_errors);
    bump(c_skipped_, s.files_skipped, last_.files_skipped);
    bump(c_parse_errors_, op_stats_.parse_errors, last_parse_errors_);
    g_open_files_->Set(static_cast<double>(tailer_.open_files()));
  }

  std::string id_;
  const FilelogOptions& options_;
  filelog::Tailer tailer_;
  filelog::Chain chain_;
  component::Consumer& next_;
  component::StorageClient* storage_ = nullptr;
  telemetry::ReceiverMetrics metrics_;
  filelog::OperatorStats op_stats_;

  model::Batch batch_{Signal::kLogs};
  std::size_t batch_records_ = 0;
  std::size_t batch_bytes_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t now_nanos_ = unix_nanos_now();
  model::Attributes attributes_template_;
  model::Attributes resource_template_;
  std::vector<std::weak_ptr<FileState>> states_;
  bool dirty_ = false;

  filelog::TailerStats last_;
  std::uint64_t last_parse_errors_ = 0;
  prometheus::Counter* c_bytes_ = nullptr;
  prometheus::Counter* c_lines_ = nullptr;
  prometheus::Counter* c_truncated_ = nullptr;
  prometheus::Counter* c_invalid_utf8_ = nullptr;
  prometheus::Counter* c_rotations_ = nullptr;
  prometheus::Counter* c_truncations_ = nullptr;
  prometheus::Counter* c_open_errors_ = nullptr;
  prometheus::Counter* c_skipped_ = nullptr;
  prometheus::Counter* c_parse_errors_ = nullptr;
  prometheus::Counter* c_checkpoint_errors_ = nullptr;
  prometheus::Gauge* g_open_files_ = nullptr;
};

// ---- the component -------------------------------------------------------------------------------

FilelogReceiver::FilelogReceiver(std::string id, FilelogOptions options,
                                 std::vector<std::unique_ptr<filelog::Operator>> ops, component::Consumer& next,
                                 telemetry::Telemetry& telemetry)
    : id_(std::move(id)), options_(std::move(options)) {
  reader_ = std::make_unique<Reader>(id_, options_, std::move(ops), next, telemetry);
}

FilelogReceiver::~FilelogReceiver() { shutdown(component::Clock::now()); }

Status FilelogReceiver::start(component::Host& host) {
  if (!options_.storage.empty()) {
    std::string error;
    component::StorageExtension* ext = component::find_storage(host, options_.storage, error);
    if (ext == nullptr) return Status::permanent(error);
    storage_ = ext->client(component::Kind::kReceiver, id_, "", error);
    if (!storage_) return Status::permanent("storage " + options_.storage + ": " + error);
    reader_->set_storage(storage_.get());
  }
  reader_->restore_checkpoint();
  thread_ = std::thread([this] { reader_->run(stop_, mu_, cv_); });
  return Status::ok();
}

void FilelogReceiver::shutdown(component::Deadline /*deadline*/) {
  {
    std::lock_guard lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  // The reader answers within one read chunk; its last batch goes to a pipeline that is still up
  // (receivers stop first), so joining does not wait on an exporter.
  if (thread_.joinable()) thread_.join();
}

// ---- config --------------------------------------------------------------------------------------

namespace {

bool read_size(const config::Settings& settings, std::string_view key, std::size_t& out) {
  const config::Value* v = settings.raw(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_scalar()) return false;
  // The operators' parser, so that one config reads "1kb" one way (the Collector's: 1000 bytes).
  const std::optional<std::uint64_t> n = filelog::ops::parse_byte_size(v->scalar);
  if (!n) return false;
  out = static_cast<std::size_t>(*n);
  return true;
}

}  // namespace

component::Factory filelog_receiver_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kReceiver;
  f.type = kType;
  f.description = "Tails log files (rotation, truncation, restarts) and parses them with operators.";
  f.signals = {Signal::kLogs};
  f.schema = {
      opt_string_list("include", "Globs of the files to read (\"**\" matches any number of directories). Required."),
      opt_string_list("exclude", "Globs of files not to read, even when include matches them."),
      opt_string("start_at", "end",
                 "Where to start in files found at startup with no checkpoint: beginning or end. Files that "
                 "appear later are always read from their start.",
                 {"beginning", "end"}),
      opt_duration("poll_interval", "200ms", "How often the globs are matched and files checked for new data.",
                   0.001),
      opt_any("fingerprint_size",
              "Bytes at the start of a file that identify it across renames (\"1KiB\", 1024). Default 1KiB."),
      opt_any("max_log_size",
              "Longest line (or multiline record); longer ones are cut, flagged with vigil.truncated and "
              "counted. Default 1MiB."),
      opt_int("max_concurrent_files", 1024, "Files open at once; the others wait for a later poll.", 1),
      opt_string("encoding", "utf-8",
                 "utf-8 (invalid bytes replaced by U+FFFD and counted), utf-8-raw (bytes kept as they are), "
                 "nop (the body is bytes).",
                 {"utf-8", "utf8", "utf-8-raw", "nop"}),
      opt_bool("include_file_name", true, "Add the attribute log.file.name."),
      opt_bool("include_file_path", false, "Add the attribute log.file.path."),
      opt_duration("force_flush_period", "500ms",
                   "A last line without newline is sent once the file has not grown for this long.", 0),
      opt_object("multiline", "Records spanning several lines (stack traces in plain files): one of the two.",
                 {opt_string("line_start_pattern", "", "RE2: a record starts at a line matching this."),
                  opt_string("line_end_pattern", "", "RE2: a record ends at a line matching this.")}),
      opt_any("operators", "Operators applied to every line, in order (see README)."),
      opt_string("storage", "", "ID of a storage extension (file_storage/x) that keeps file positions."),
      opt_string_map("attributes", "Attributes added to every record."),
      opt_string_map("resource", "Resource attributes added to every record."),
  };
  f.validate = [](const Settings& settings, const std::string& id, Errors& errors) {
    if (settings.get_string_list("include").empty()) {
      errors.push_back({settings.location("include"), id, "include: at least one glob is required"});
    }
    std::size_t size = 0;
    for (const char* key : {"fingerprint_size", "max_log_size"}) {
      if (!read_size(settings, key, size) || (settings.raw(key) != nullptr && size == 0)) {
        errors.push_back({settings.location(key), id,
                          std::string(key) + ": expected a positive size such as 1024, \"1KiB\" or \"1MiB\""});
      }
    }
    if (!settings.get_string("multiline.line_start_pattern").empty() &&
        !settings.get_string("multiline.line_end_pattern").empty()) {
      errors.push_back({settings.location("multiline"), id,
                        "multiline: give line_start_pattern or line_end_pattern, not both"});
    }
    filelog::TailerOptions t;
    t.include = settings.get_string_list("include");
    t.exclude = settings.get_string_list("exclude");
    t.line_start_pattern = settings.get_string("multiline.line_start_pattern");
    t.line_end_pattern = settings.get_string("multiline.line_end_pattern");
    if (std::string problem = filelog::Tailer::validate(t); !problem.empty()) {
      errors.push_back({settings.location(), id, problem});
    }
    filelog::build_operators(settings.raw("operators"), id, errors);
  };
  f.create_receiver = [](const component::CreateSettings& cs,
                         const component::SignalConsumers& next) -> std::unique_ptr<component::Receiver> {
    const Settings& s = cs.settings;
    FilelogOptions o;
    o.tailer.include = s.get_string_list("include");
    o.tailer.exclude = s.get_string_list("exclude");
    o.tailer.start_at_beginning = s.get_string("start_at") == "beginning";
    read_size(s, "fingerprint_size", o.tailer.fingerprint_size);
    read_size(s, "max_log_size", o.tailer.max_log_size);
    o.tailer.max_concurrent_files = static_cast<std::size_t>(s.get_int("max_concurrent_files"));
    const std::string encoding = s.get_string("encoding");
    o.tailer.encoding = (encoding == "utf-8" || encoding == "utf8") ? "utf-8" : "nop";
    o.tailer.force_flush_period = s.get_duration("force_flush_period");
    o.tailer.line_start_pattern = s.get_string("multiline.line_start_pattern");
    o.tailer.line_end_pattern = s.get_string("multiline.line_end_pattern");
    o.poll_interval = s.get_duration("poll_interval");
    o.include_file_name = s.get_bool("include_file_name");
    o.include_file_path = s.get_bool("include_file_path");
    o.storage = s.get_string("storage");
    o.attributes = s.get_string_map("attributes");
    o.resource = s.get_string_map("resource");
    if (encoding == "nop") o.body_as_bytes = true;
    Errors errors;
    auto ops = filelog::build_operators(s.raw("operators"), cs.id, errors);
    return std::make_unique<FilelogReceiver>(cs.id, std::move(o), std::move(ops),
                                             *next[static_cast<std::size_t>(Signal::kLogs)], cs.telemetry);
  };
  return f;
}

}  // namespace vigil::collectors
