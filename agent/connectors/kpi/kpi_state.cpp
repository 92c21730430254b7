#include "agent/connectors/kpi/kpi_state.hpp"

#include <charconv>

namespace vigil::connectors::kpi {

bool any_value_text(const model::AnyValue& v, NumberText& buf, std::string_view& out) {
  switch (v.type()) {
    case model::ValueType::kString:
      out = v.string_value();
      return true;
    case model::ValueType::kBool:
      out = v.bool_value() ? "true" : "false";
      return true;
    case model::ValueType::kInt: {
      auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v.int_value());
      if (ec != std::errc()) return false;
      out = std::string_view(buf.data(), static_cast<std::size_t>(ptr - buf.data()));
      return true;
    }
    case model::ValueType::kDouble: {
      auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v.double_value());
      if (ec != std::errc()) return false;
      out = std::string_view(buf.data(), static_cast<std::size_t>(ptr - buf.data()));
      return true;
    }
    default:
      return false;
  }
}

// ---- Interner -------------------------------------------------------------------------------

Interner::Interner(std::size_t max_values) : max_values_(max_values) {
  auto [it, inserted] = ids_.emplace("other", kOther);
  (void)inserted;
  values_.push_back(&it->first);
}

std::uint32_t Interner::intern(std::string_view value, bool& overflow) {
  if (auto it = ids_.find(value); it != ids_.end()) return it->second;
  if (distinct() >= max_values_) {
    overflow = true;
    return kOther;
  }
  const auto id = static_cast<std::uint32_t>(values_.size());
  auto [it, inserted] = ids_.emplace(std::string(value), id);
  (void)inserted;
  values_.push_back(&it->first);
  return id;
}

// ---- ResourceGroups -------------------------------------------------------------------------

ResourceGroups::ResourceGroups(std::vector<std::string> names) : names_(std::move(names)) {
  values_.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) values_.emplace_back(kMaxValues);
}

std::uint32_t ResourceGroups::group_of(const model::Resource& resource,
                                       std::array<std::uint64_t, kMaxResourceAttributes>& overflowed) {
  Ids ids;
  ids.fill(Interner::kAbsent);
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const model::AnyValue* v = model::find_attribute(resource.attributes, names_[i]);
    NumberText buf;
    std::string_view text;
    if (v == nullptr || !any_value_text(*v, buf, text)) continue;
    bool overflow = false;
    ids[i] = values_[i].intern(text, overflow);
    if (overflow) ++overflowed[i];
  }
  if (auto it = index_.find(ids); it != index_.end()) return it->second;
  const auto group = static_cast<std::uint32_t>(groups_.size());
  groups_.push_back(ids);
  index_.emplace(ids, group);
  return group;
}

// ---- MetricStore ----------------------------------------------------------------------------

MetricStore::MetricStore(const MetricDef& def, std::shared_ptr<ResourceGroups> groups,
                         std::uint64_t start_time_unix_nano)
    : kind_(def.kind),
      bucket_count_(def.kind == MetricKind::kHistogram ? def.bounds.size() + 1 : 0),
      label_count_(def.label_names.size()),
      max_series_(def.max_series),
      groups_(std::move(groups)),
      start_time_unix_nano_(start_time_unix_nano) {
  labels_.reserve(label_count_);
  for (std::size_t i = 0; i < label_count_; ++i) labels_.emplace_back(def.label_max_values[i]);
}

void MetricStore::set_limits(const MetricDef& def) {
  max_series_ = def.max_series;
  for (std::size_t i = 0; i < label_count_ && i < def.label_max_values.size(); ++i) {
    labels_[i].set_max_values(def.label_max_values[i]);
  }
}

Series& MetricStore::add(const SeriesKey& key) {
  Series& s = series_.emplace_back();
  s.key = key;
  if (bucket_count_ != 0) s.buckets.assign(bucket_count_, 0);
  index_.emplace(key, static_cast<std::uint32_t>(series_.size() - 1));
  return s;
}

Series& MetricStore::find_or_add(const SeriesKey& key, bool& overflowed) {
  if (auto it = index_.find(key); it != index_.end()) return series_[it->second];
  if (series_.size() < max_series_) return add(key);
  overflowed = true;
  SeriesKey other;
  other.group = key.group;
  other.labels.fill(Interner::kAbsent);
  for (std::size_t i = 0; i < label_count_; ++i) other.labels[i] = Interner::kOther;
  if (auto it = index_.find(other); it != index_.end()) return series_[it->second];
  return add(other);  // one per resource group, past the bound on purpose: the fold must land somewhere
}

// ---- KpiState -------------------------------------------------------------------------------

KpiState::KpiState() : last_emit(component::Clock::now().time_since_epoch().count()) {}

std::shared_ptr<ResourceGroups> KpiState::groups_for(const std::vector<std::string>& resource_attributes) {
  std::string key;
  for (const std::string& a : resource_attributes) (key += a) += '\x1e';
  auto& slot = groups_[key];
  if (auto alive = slot.lock()) return alive;
  auto made = std::make_shared<ResourceGroups>(resource_attributes);
  slot = made;
  return made;
}

std::shared_ptr<MetricStore> KpiState::store_for(const MetricDef& def,
                                                 const std::vector<std::string>& resource_attributes,
                                                 std::uint64_t now_unix_nano) {
  // Forget stores no config uses any more, so the map does not grow with every reload.
  for (auto it = stores_.begin(); it != stores_.end();) {
    it = it->second.expired() ? stores_.erase(it) : std::next(it);
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    it = it->second.expired() ? groups_.erase(it) : std::next(it);
  }
  auto& slot = stores_[def.key(resource_attributes)];
  if (auto alive = slot.lock()) {
    alive->set_limits(def);
    return alive;
  }
  auto made = std::make_shared<MetricStore>(def, groups_for(resource_attributes), now_unix_nano);
  slot = made;
  return made;
}

}  // namespace vigil::connectors::kpi
