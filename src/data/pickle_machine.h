#pragma once
// The restricted pickle interpreter's machine (restricted_pickle.h): its stack, memo and value
// arena, the opcode loop (restricted_pickle.cpp) and the whitelisted constructors it imitates
// (pickle_constructors.cpp). Private to src/data.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bnlandscape/data/image_set.h"
#include "bnlandscape/data/restricted_pickle.h"

namespace bnl::data::pickle {


// A shipped batch holds about 40k pickle objects; these bounds keep a hostile file's memory
// use proportional to a few times its size.
constexpr std::size_t kMaxObjects = std::size_t(1) << 20;
constexpr std::size_t kMaxStack = std::size_t(1) << 20;
constexpr std::size_t kMaxGlobalLine = 256;
constexpr std::size_t kMaxDims = 64;  // numpy 2's NPY_MAXDIMS

enum class GlobalId : std::uint8_t { Reconstruct, Ndarray, Dtype, CodecsEncode };

// Text from the file, made safe for a one-line message: printable ASCII, at most 40 characters.
inline std::string printable(const std::string& s) {
  std::string out = "'";
  for (std::size_t j = 0; j < s.size() && j < 40; ++j) {
    const auto c = static_cast<unsigned char>(s[j]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return out + (s.size() > 40 ? "...'" : "'");
}

class PickleMachine {
 public:
  PickleMachine(const std::uint8_t* p, std::size_t n, const std::string& name)
      : p_(p), n_(n), name_(name) {}

  // Runs the opcode stream to STOP and returns the index of the single resulting value.
  std::uint32_t run();

  const Obj& at(std::uint32_t i) const { return arena_[i]; }
  // The values made so far; the machine is spent afterwards.
  std::vector<Obj> take_values() { return std::move(arena_); }

  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(name_ + ": " + what + " at byte " + std::to_string(op_pos_) +
                    " of the pickle (expected a CIFAR-10 python batch)");
  }

 private:
  const std::uint8_t* need(std::size_t k, const char* what) {
    if (n_ - pos_ < k) {
      fail(std::string("truncated pickle: ") + what + " needs " + std::to_string(k) +
           " bytes, " + std::to_string(n_ - pos_) + " left");
    }
    const std::uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  std::uint64_t le(std::size_t k, const char* what) {
    const std::uint8_t* q = need(k, what);
    std::uint64_t v = 0;
    for (std::size_t j = k; j-- > 0;) v = (v << 8) | q[j];
    return v;
  }
  std::string line(const char* what) {
    const std::size_t limit = std::min(n_ - pos_, kMaxGlobalLine);
    const void* nl = std::memchr(p_ + pos_, '\n', limit);
    if (nl == nullptr) fail(std::string("unterminated or overlong ") + what);
    const auto len = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nl) - (p_ + pos_));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return s;
  }

  std::uint32_t make(Obj o) {
    if (arena_.size() >= kMaxObjects) {
      fail("more than " + std::to_string(kMaxObjects) + " pickle objects");
    }
    arena_.push_back(std::move(o));
    return static_cast<std::uint32_t>(arena_.size() - 1);
  }
  std::uint32_t make_simple(Kind k, std::int64_t i = 0) {
    Obj o;
    o.kind = k;
    o.i = i;
    return make(std::move(o));
  }
  std::uint32_t make_string(Kind k, std::uint64_t len, const char* what) {
    if (len > n_ - pos_) {
      fail(std::string("truncated pickle: ") + what + " of " + std::to_string(len) +
           " bytes, " + std::to_string(n_ - pos_) + " left");
    }
    Obj o;
    o.kind = k;
    o.s.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return make(std::move(o));
  }

  std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(std::uint32_t i) {
    if (stack_.size() >= kMaxStack) {
      fail("pickle stack deeper than " + std::to_string(kMaxStack));
    }
    stack_.push_back(i);
  }
  std::uint32_t pop() {
    if (stack_.size() <= fence()) fail("pickle stack underflow");
    const std::uint32_t i = stack_.back();
    stack_.pop_back();
    return i;
  }
  std::uint32_t top() const {
    if (stack_.size() <= fence()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<std::uint32_t> pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<std::uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m),
                                     stack_.end());
    stack_.resize(m);
    return items;
  }
  Obj& expect(std::uint32_t i, Kind k, const char* role) {
    if (arena_[i].kind != k) {
      fail(std::string("expected ") + kind_name(k) + " as " + role + ", got " +
           kind_name(arena_[i].kind));
    }
    return arena_[i];
  }
  bool is_text(std::uint32_t i, const char* text) const {
    const Obj& o = arena_[i];
    return (o.kind == Kind::Str || o.kind == Kind::Bytes) && o.s == text;
  }
  bool is_int_like(std::uint32_t i) const {
    return arena_[i].kind == Kind::Int || arena_[i].kind == Kind::Bool;
  }

  void memo_put(std::uint64_t key) {
    const std::uint32_t v = top();
    if (memo_.size() >= kMaxObjects && memo_.find(key) == memo_.end()) {
      fail("more than " + std::to_string(kMaxObjects) + " memo entries");
    }
    memo_[key] = v;
  }
  void memo_get(std::uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " is undefined");
    push(it->second);
  }

  // By value: the names may live in the arena, which grows when the global is made.
  // One opcode that pushes a constant (None, bool, int, bytes, str); false for any other.
  bool push_value(std::uint8_t op);
  // One opcode that builds or changes containers, the memo, globals or objects (TUPLE ...
  // BUILD); false for any other.
  bool apply_structure(std::uint8_t op);
  void global(std::string module, std::string qualname);
  void reduce();
  void build();
  void append_to(std::uint32_t list, const std::vector<std::uint32_t>& items);
  void set_items(std::uint32_t dict, const std::vector<std::uint32_t>& items);

  const std::uint8_t* p_;
  std::size_t n_;
  const std::string& name_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::vector<Obj> arena_;
  std::vector<std::uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, std::uint32_t> memo_;
  std::size_t decode_budget_ = n_;
};

}  // namespace bnl::data::pickle
