#pragma once
// A bump allocator that owns the memory of one batch's records.
//
// Ownership: everything allocated from an Arena lives until the Arena is destroyed; nothing is
// freed one by one, and destructors of allocated objects never run, so only trivially
// destructible types go in. Thread-safety: none; one thread allocates at a time. Memory that has
// been handed out is never moved, so other threads may read it while the owner keeps allocating.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vigil::model {

class Arena {
 public:
  static constexpr std::size_t kDefaultChunkSize = 64 * 1024;

  explicit Arena(std::size_t chunk_size = kDefaultChunkSize) : chunk_size_(chunk_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* allocate(std::size_t size, std::size_t align) {
    std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(cur_) + align - 1) & ~(align - 1);
    if (cur_ == nullptr || p + size > reinterpret_cast<std::uintptr_t>(end_)) {
      grow(size + align);
      p = (reinterpret_cast<std::uintptr_t>(cur_) + align - 1) & ~(align - 1);
    }
    cur_ = reinterpret_cast<char*>(p + size);
    used_ += size;
    return reinterpret_cast<void*>(p);
  }

  template <class T>
  T* allocate_array(std::size_t n) {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    if (n == 0) return nullptr;
    return static_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
  }

  // Copies bytes into the arena and returns a view of the copy.
  std::string_view copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Keeps an existing buffer alive as long as the arena, so views into it stay valid
  // (zero-copy decoding of a request body).
  std::string_view adopt(std::string&& buffer) {
    auto owned = std::make_unique<std::string>(std::move(buffer));
    std::string_view view(*owned);
    adopted_bytes_ += owned->capacity();
    adopted_.push_back(std::move(owned));
    return view;
  }

  // Bytes handed out (payload), and bytes reserved from the system (what memory accounting uses).
  std::size_t used_bytes() const { return used_; }
  std::size_t reserved_bytes() const { return reserved_ + adopted_bytes_; }

 private:
  void grow(std::size_t at_least) {
    std::size_t size = at_least > chunk_size_ ? at_least : chunk_size_;
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    cur_ = chunks_.back().get();
    end_ = cur_ + size;
    reserved_ += size;
    // Chunks grow geometrically up to 1 MiB so a large batch needs few of them.
    if (chunk_size_ < (1u << 20)) chunk_size_ *= 2;
  }

  std::size_t chunk_size_;
  char* cur_ = nullptr;
  char* end_ = nullptr;
  std::size_t used_ = 0;
  std::size_t reserved_ = 0;
  std::size_t adopted_bytes_ = 0;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::vector<std::unique_ptr<std::string>> adopted_;
};

// A growable array whose storage lives in an Arena. The header is trivially copyable: copying it
// copies the view, not the elements. Growth copies the elements to a new place in the arena (the
// old storage stays valid for readers holding an older header).
template <class T>
class ArenaVec {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  void reserve(Arena& arena, std::size_t n) {
    if (n <= cap_) return;
    T* fresh = arena.allocate_array<T>(n);
    if (size_ != 0) std::memcpy(static_cast<void*>(fresh), data_, sizeof(T) * size_);
    data_ = fresh;
    cap_ = static_cast<std::uint32_t>(n);
  }

  // Appends a value-initialised element and returns it.
  T& emplace_back(Arena& arena) {
    if (size_ == cap_) reserve(arena, cap_ == 0 ? 4 : std::size_t{cap_} * 2);
    T* slot = data_ + size_++;
    new (slot) T{};
    return *slot;
  }

  void push_back(Arena& arena, const T& v) { emplace_back(arena) = v; }

  // Copies a whole range into fresh storage (used when building from a known count).
  void assign(Arena& arena, const T* src, std::size_t n) {
    size_ = 0;
    cap_ = 0;
    data_ = nullptr;
    reserve(arena, n);
    if (n != 0) std::memcpy(static_cast<void*>(data_), src, sizeof(T) * n);
    size_ = static_cast<std::uint32_t>(n);
  }

  void resize_down(std::size_t n) {
    if (n < size_) size_ = static_cast<std::uint32_t>(n);
  }
  // Drops the first n elements by moving the view, without touching the storage (which may be
  // another batch's). Capacity shrinks to the size, so later growth reallocates in the caller's
  // arena instead of writing into storage it does not own. Used by Batch::split_front.
  void drop_front(std::size_t n) {
    if (n > size_) n = size_;
    if (n != 0) data_ += n;
    size_ -= static_cast<std::uint32_t>(n);
    cap_ = size_;
  }
  void clear() { size_ = 0; }

  // Removes elements for which pred is true, keeping order.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::uint32_t out = 0;
    for (std::uint32_t i = 0; i < size_; ++i) {
      if (!pred(data_[i])) data_[out++] = data_[i];
    }
    std::size_t removed = size_ - out;
    size_ = out;
    return removed;
  }

 private:
  T* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = 0;
};

}  // namespace vigil::model
