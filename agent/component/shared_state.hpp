#pragma once
// State that outlives a config reload and is shared by the instances of one component: the KPI
// connector's cumulative series (a counter must not go back to zero on SIGHUP) and the
// correlation processor's join table (one table for the logs and traces pipelines).
//
// Objects are held by weak_ptr and keyed by a string the component chooses (its type and ID). At
// a reload the new graph is built while the old one still runs, so the new instances find the
// old instances' object; it is destroyed once no component holds it (the component left the
// config). The registry belongs to the Service (through Telemetry), so separate agents in one
// process (tests) never share state.
//
// Thread-safety: get() may be called from any thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <utility>

namespace vigil::component {

class SharedState {
 public:
  // The object under `key`, or a new one from make() when none is alive. A key always holds
  // one type; asking for another type under the same key yields a new object under a key of
  // its own (so a bug cannot cast an object to the wrong type).
  template <class T>
  std::shared_ptr<T> get(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
    std::lock_guard lock(mu_);
    auto& slot = objects_[{key, std::type_index(typeid(T))}];
    if (auto alive = slot.lock()) return std::static_pointer_cast<T>(alive);
    std::shared_ptr<T> made = make();
    slot = made;
    return made;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::type_index>, std::weak_ptr<void>> objects_;
};

}  // namespace vigil::component
