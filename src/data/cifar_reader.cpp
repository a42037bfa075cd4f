// CIFAR-10 readers: binary batches and a whitelist interpreter for the pickled python batches.
// Only the standard library (and the zlib-based file helper): this file is also built into
// libFuzzer harnesses.
//
// The python batches are pickles (https://docs.python.org/3/library/pickle.html, opcodes in
// CPython's Lib/pickletools.py). The shipped files were written by Python 2 cPickle with
// protocol 2:
//   PROTO 2, EMPTY_DICT, MARK,
//     SHORT_BINSTRING 'data',
//       GLOBAL 'numpy.core.multiarray _reconstruct', GLOBAL 'numpy ndarray', (0,), 'b', REDUCE,
//       (1, (10000, 3072), dtype('u1', 0, 1) BUILD (3, '|', None, ...), False, BINSTRING raw)
//       BUILD,
//     SHORT_BINSTRING 'labels', EMPTY_LIST, MARK, BININT1 ..., APPENDS (1000 per batch),
//     SHORT_BINSTRING 'batch_label' / 'filenames' ...,
//   SETITEMS, STOP
// with BINPUT/BINGET memo operations in between. A Python 3 re-dump with protocol 2 has
// BINUNICODE keys (or bytes keys) and carries every bytes object as
// _codecs.encode(<latin-1 text>, 'latin1'); protocols 3 and 4 use BINBYTES, FRAME,
// SHORT_BINUNICODE, STACK_GLOBAL and MEMOIZE. Only these opcodes and only the globals needed
// to rebuild a uint8 ndarray and a bytes object are accepted; nothing is ever called, the
// interpreter only records the values the few whitelisted constructors would have produced.

#include "bnlandscape/data/cifar_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bnlandscape/data/idx_reader.h"

namespace bnl::data {
namespace {

constexpr std::int64_t kChannels = 3;
constexpr std::int64_t kSide = 32;
constexpr std::int64_t kImageBytes = kChannels * kSide * kSide;  // 3072
constexpr std::int64_t kRecordBytes = 1 + kImageBytes;           // 3073
constexpr unsigned kNumClasses = 10;
// A shipped batch holds about 40k pickle objects; these bounds keep a hostile file's memory
// use proportional to a few times its size.
constexpr std::size_t kMaxObjects = std::size_t(1) << 20;
constexpr std::size_t kMaxStack = std::size_t(1) << 20;
constexpr std::size_t kMaxGlobalLine = 256;
constexpr std::size_t kMaxDims = 64;  // numpy 2's NPY_MAXDIMS
// 50000 python batch files are ~31 MB each; a merged file of all batches is still far below.
constexpr std::size_t kMaxPickleFile = std::size_t(1) << 30;
constexpr std::size_t kMaxBinaryFile = std::size_t(1) << 30;

enum class Kind : std::uint8_t {
  None, Bool, Int, Bytes, Str, Tuple, List, Dict, Global, Array, Dtype
};

enum class GlobalId : std::uint8_t { Reconstruct, Ndarray, Dtype, CodecsEncode };

// One pickle value. Containers refer to other values by index into the interpreter's arena, so
// cycles built through the memo and deep nesting cost nothing to hold or to destroy.
struct Obj {
  Kind kind = Kind::None;
  std::int64_t i = 0;                // Bool, Int; GlobalId for Global
  std::string s;                     // Bytes, Str (UTF-8); Dtype descr
  std::vector<std::uint32_t> items;  // Tuple, List; Dict as key, value, key, value...
  std::vector<std::int64_t> shape;   // Array
  std::uint32_t data = 0;            // Array: index of its Bytes
  bool built = false;                // Array, Dtype: BUILD applied
};

// Text from the file, made safe for a one-line message: printable ASCII, at most 40 characters.
std::string printable(const std::string& s) {
  std::string out = "'";
  for (std::size_t j = 0; j < s.size() && j < 40; ++j) {
    const auto c = static_cast<unsigned char>(s[j]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return out + (s.size() > 40 ? "...'" : "'");
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Bytes: return "bytes";
    case Kind::Str: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Array: return "numpy.ndarray";
    case Kind::Dtype: return "numpy.dtype";
  }
  return "?";
}

class PickleMachine {
 public:
  PickleMachine(const std::uint8_t* p, std::size_t n, const std::string& name)
      : p_(p), n_(n), name_(name) {}

  // Runs the opcode stream to STOP and returns the index of the single resulting value.
  std::uint32_t run();

  const Obj& at(std::uint32_t i) const { return arena_[i]; }

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

void PickleMachine::global(std::string module, std::string qualname) {
  GlobalId id;
  if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") &&
      qualname == "_reconstruct") {
    id = GlobalId::Reconstruct;
  } else if (module == "numpy" && qualname == "ndarray") {
    id = GlobalId::Ndarray;
  } else if (module == "numpy" && qualname == "dtype") {
    id = GlobalId::Dtype;
  } else if (module == "_codecs" && qualname == "encode") {
    id = GlobalId::CodecsEncode;
  } else {
    fail("pickle global " + printable(module + "." + qualname) +
         " is not allowed (only numpy array reconstruction and _codecs.encode)");
  }
  push(make_simple(Kind::Global, static_cast<std::int64_t>(id)));
}

void PickleMachine::reduce() {
  const std::uint32_t args_i = pop();
  const std::uint32_t callable_i = pop();
  if (arena_[callable_i].kind != Kind::Global) {
    fail(std::string("REDUCE on a ") + kind_name(arena_[callable_i].kind) + " is not allowed");
  }
  const std::vector<std::uint32_t> args = expect(args_i, Kind::Tuple, "REDUCE arguments").items;
  switch (static_cast<GlobalId>(arena_[callable_i].i)) {
    case GlobalId::Reconstruct: {
      // numpy pickles an ndarray as _reconstruct(ndarray, (0,), b'b') followed by BUILD.
      if (args.size() != 3 || arena_[args[0]].kind != Kind::Global ||
          static_cast<GlobalId>(arena_[args[0]].i) != GlobalId::Ndarray ||
          arena_[args[1]].kind != Kind::Tuple || !is_text(args[2], "b")) {
        fail("expected _reconstruct(numpy.ndarray, (0,), b'b')");
      }
      push(make_simple(Kind::Array));
      return;
    }
    case GlobalId::Dtype: {
      if (args.size() != 3 || !(arena_[args[0]].kind == Kind::Str ||
                                arena_[args[0]].kind == Kind::Bytes) ||
          !is_int_like(args[1]) || !is_int_like(args[2])) {
        fail("expected numpy.dtype(<str>, <bool>, <bool>)");
      }
      if (arena_[args[0]].s != "u1") {
        fail("expected numpy dtype 'u1' (uint8), got " + printable(arena_[args[0]].s));
      }
      Obj o;
      o.kind = Kind::Dtype;
      o.s = arena_[args[0]].s;
      push(make(std::move(o)));
      return;
    }
    case GlobalId::CodecsEncode: {
      // Python 3 pickles bytes for protocol 2 as _codecs.encode(text, 'latin1'), where each
      // character of `text` is one byte value, written in UTF-8.
      if (args.size() != 2 || arena_[args[0]].kind != Kind::Str ||
          !(is_text(args[1], "latin1") || is_text(args[1], "latin-1"))) {
        fail("expected _codecs.encode(<str>, 'latin1')");
      }
      const std::string& text = arena_[args[0]].s;
      // The memo lets a file encode one long text again and again for a few bytes each; real
      // batches decode every byte of the file at most once.
      if (text.size() > decode_budget_) fail("_codecs.encode output exceeds the file size");
      decode_budget_ -= text.size();
      Obj o;
      o.kind = Kind::Bytes;
      o.s.reserve(text.size());
      for (std::size_t j = 0; j < text.size(); ++j) {
        const auto c = static_cast<unsigned char>(text[j]);
        if (c < 0x80) {
          o.s.push_back(static_cast<char>(c));
        } else if ((c == 0xc2 || c == 0xc3) && j + 1 < text.size() &&
                   (static_cast<unsigned char>(text[j + 1]) & 0xc0) == 0x80) {
          o.s.push_back(static_cast<char>(((c & 0x03) << 6) |
                                          (static_cast<unsigned char>(text[j + 1]) & 0x3f)));
          ++j;
        } else {
          fail("_codecs.encode text is not latin-1 encodable UTF-8");
        }
      }
      push(make(std::move(o)));
      return;
    }
    case GlobalId::Ndarray:
      break;
  }
  fail("REDUCE on numpy.ndarray is not allowed");
}

void PickleMachine::build() {
  const std::uint32_t state_i = pop();
  const std::uint32_t obj_i = top();
  Obj& obj = arena_[obj_i];
  if ((obj.kind != Kind::Array && obj.kind != Kind::Dtype) || obj.built) {
    fail(std::string("BUILD on ") + (obj.built ? "an already built " : "a ") +
         kind_name(obj.kind) + " is not allowed");
  }
  // By reference: BUILD makes no objects, so the arena does not move. A copy would let a file
  // BUILD fresh dtypes again and again with one huge state tuple from the memo, a few bytes
  // each, in time quadratic in its size.
  const std::vector<std::uint32_t>& state = expect(state_i, Kind::Tuple, "BUILD state").items;
  if (obj.kind == Kind::Dtype) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags): a plain 'u1'
    // has no subarray or fields, which is all that matters for raw bytes.
    if (state.size() < 5 || arena_[state[2]].kind != Kind::None ||
        arena_[state[3]].kind != Kind::None || arena_[state[4]].kind != Kind::None) {
      fail("expected the state of a plain numpy dtype");
    }
    arena_[obj_i].built = true;
    return;
  }
  // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)); older numpy omitted
  // the version.
  const std::size_t off = state.size() == 5 ? 1 : 0;
  if ((state.size() != 5 && state.size() != 4) ||
      (off == 1 && !(arena_[state[0]].kind == Kind::Int && arena_[state[0]].i == 1))) {
    fail("expected ndarray state (1, shape, dtype, is_fortran, data)");
  }
  const std::vector<std::uint32_t>& shape_items =
      expect(state[off], Kind::Tuple, "ndarray shape").items;
  expect(state[off + 1], Kind::Dtype, "ndarray dtype");
  if (!is_int_like(state[off + 2])) fail("expected bool as ndarray is_fortran");
  const std::uint32_t data_i = state[off + 3];
  const std::size_t data_size = expect(data_i, Kind::Bytes, "ndarray data").s.size();
  if (shape_items.size() > kMaxDims) {
    fail("ndarray with " + std::to_string(shape_items.size()) + " dimensions");
  }
  std::vector<std::int64_t> shape;
  std::uint64_t count = 1;
  for (const std::uint32_t d : shape_items) {
    const Obj& dim = expect(d, Kind::Int, "ndarray dimension");
    if (dim.i < 0) fail("negative ndarray dimension " + std::to_string(dim.i));
    const auto u = static_cast<std::uint64_t>(dim.i);
    if (u != 0 && count > std::numeric_limits<std::uint64_t>::max() / u) {
      fail("ndarray shape overflows");
    }
    count *= u;
    shape.push_back(dim.i);
  }
  if (arena_[state[off + 2]].i != 0 && shape.size() > 1) {
    fail("expected a C-ordered ndarray, got Fortran order");
  }
  if (count != data_size) {
    fail("ndarray shape holds " + std::to_string(count) + " bytes but its data has " +
         std::to_string(data_size));
  }
  Obj& array = arena_[obj_i];
  array.shape = std::move(shape);
  array.data = data_i;
  array.built = true;
}

void PickleMachine::append_to(std::uint32_t list, const std::vector<std::uint32_t>& items) {
  Obj& l = expect(list, Kind::List, "APPEND target");
  l.items.insert(l.items.end(), items.begin(), items.end());
}

void PickleMachine::set_items(std::uint32_t dict, const std::vector<std::uint32_t>& items) {
  if (items.size() % 2 != 0) fail("odd number of items for SETITEMS");
  Obj& d = expect(dict, Kind::Dict, "SETITEM target");
  d.items.insert(d.items.end(), items.begin(), items.end());
}

std::uint32_t PickleMachine::run() {
  if (n_ < 2 || p_[0] != 0x80) {
    fail("expected a pickle of protocol 2 to 4 (first bytes 80 02..04)");
  }
  bool first = true;
  for (;;) {
    op_pos_ = pos_;
    const std::uint8_t op = *need(1, "opcode");
    if (first && op != 0x80) fail("expected PROTO as first opcode");
    switch (op) {
      case 0x80: {  // PROTO
        const unsigned proto = *need(1, "PROTO");
        if (!first) fail("PROTO after the start");
        if (proto < 2 || proto > 4) {
          fail("expected pickle protocol 2 to 4, got " + std::to_string(proto));
        }
        break;
      }
      case 0x95: {  // FRAME: a size hint only
        const std::uint64_t len = le(8, "FRAME");
        if (len > n_ - pos_) fail("FRAME longer than the rest of the file");
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty()) fail("unclosed MARK at STOP");
        if (stack_.size() != 1) {
          fail("expected one value on the stack at STOP, found " + std::to_string(stack_.size()));
        }
        if (pos_ != n_) {
          fail("expected end of file after STOP, found " + std::to_string(n_ - pos_) +
               " trailing bytes");
        }
        return stack_.back();
      }
      case '(':  // MARK
        if (marks_.size() >= kMaxStack) fail("too many nested MARKs");
        marks_.push_back(stack_.size());
        break;
      case '}': push(make_simple(Kind::Dict)); break;   // EMPTY_DICT
      case ']': push(make_simple(Kind::List)); break;   // EMPTY_LIST
      case ')': push(make_simple(Kind::Tuple)); break;  // EMPTY_TUPLE
      case 'N': push(make_simple(Kind::None)); break;   // NONE
      case 0x88: push(make_simple(Kind::Bool, 1)); break;  // NEWTRUE
      case 0x89: push(make_simple(Kind::Bool, 0)); break;  // NEWFALSE
      case 'K': push(make_simple(Kind::Int, static_cast<std::int64_t>(le(1, "BININT1")))); break;
      case 'M': push(make_simple(Kind::Int, static_cast<std::int64_t>(le(2, "BININT2")))); break;
      case 'J':  // BININT: signed 32-bit
        push(make_simple(Kind::Int, static_cast<std::int32_t>(le(4, "BININT"))));
        break;
      case 0x8a: {  // LONG1: little-endian two's complement of up to 8 bytes here
        const std::size_t k = *need(1, "LONG1");
        if (k > 8) fail("LONG1 wider than 64 bits");
        std::uint64_t v = le(k, "LONG1");
        if (k > 0 && k < 8 && (v >> (8 * k - 1)) != 0) v |= ~std::uint64_t(0) << (8 * k);
        push(make_simple(Kind::Int, static_cast<std::int64_t>(v)));
        break;
      }
      case 'U':  // SHORT_BINSTRING (Python 2 str: bytes)
        push(make_string(Kind::Bytes, le(1, "SHORT_BINSTRING"), "SHORT_BINSTRING"));
        break;
      case 'T': {  // BINSTRING: signed 32-bit length
        const auto len = static_cast<std::int32_t>(le(4, "BINSTRING"));
        if (len < 0) fail("negative BINSTRING length");
        push(make_string(Kind::Bytes, static_cast<std::uint64_t>(len), "BINSTRING"));
        break;
      }
      case 'C': push(make_string(Kind::Bytes, le(1, "SHORT_BINBYTES"), "SHORT_BINBYTES")); break;
      case 'B': push(make_string(Kind::Bytes, le(4, "BINBYTES"), "BINBYTES")); break;
      case 0x8e: push(make_string(Kind::Bytes, le(8, "BINBYTES8"), "BINBYTES8")); break;
      case 0x8c:
        push(make_string(Kind::Str, le(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE"));
        break;
      case 'X': push(make_string(Kind::Str, le(4, "BINUNICODE"), "BINUNICODE")); break;
      case 0x8d: push(make_string(Kind::Str, le(8, "BINUNICODE8"), "BINUNICODE8")); break;
      case 't': {  // TUPLE
        Obj o;
        o.kind = Kind::Tuple;
        o.items = pop_mark();
        push(make(std::move(o)));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        Obj o;
        o.kind = Kind::Tuple;
        o.items.resize(op - 0x84);
        for (std::size_t j = o.items.size(); j-- > 0;) o.items[j] = pop();
        push(make(std::move(o)));
        break;
      }
      case 'a': {  // APPEND
        const std::uint32_t v = pop();
        append_to(top(), {v});
        break;
      }
      case 'e': {  // APPENDS
        const std::vector<std::uint32_t> items = pop_mark();
        append_to(top(), items);
        break;
      }
      case 's': {  // SETITEM
        const std::uint32_t v = pop();
        const std::uint32_t k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<std::uint32_t> items = pop_mark();
        set_items(top(), items);
        break;
      }
      case 'q': memo_put(le(1, "BINPUT")); break;
      case 'r': memo_put(le(4, "LONG_BINPUT")); break;
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': memo_get(le(1, "BINGET")); break;
      case 'j': memo_get(le(4, "LONG_BINGET")); break;
      case 'c': {  // GLOBAL
        const std::string module = line("GLOBAL module");
        const std::string qualname = line("GLOBAL name");
        global(module, qualname);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const std::uint32_t q = pop();
        const std::uint32_t m = pop();
        global(expect(m, Kind::Str, "STACK_GLOBAL module").s,
               expect(q, Kind::Str, "STACK_GLOBAL name").s);
        break;
      }
      case 'R': reduce(); break;
      case 'b': build(); break;
      default: {
        const bool printable = op >= 0x20 && op < 0x7f;
        fail("unsupported pickle opcode 0x" + std::string(1, "0123456789abcdef"[op >> 4]) +
             std::string(1, "0123456789abcdef"[op & 15]) +
             (printable ? std::string(" '") + static_cast<char>(op) + "'" : std::string()));
      }
    }
    first = false;
  }
}

}  // namespace

ImageSet parse_cifar_binary(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.empty() || bytes.size() % kRecordBytes != 0) {
    throw DataError(name + ": expected a positive multiple of " + std::to_string(kRecordBytes) +
                    " bytes (records of 1 label + 3x32x32 pixels), got " +
                    std::to_string(bytes.size()) + " bytes");
  }
  const std::size_t n = bytes.size() / kRecordBytes;
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint8_t label = bytes[r * kRecordBytes];
    if (label >= kNumClasses) {
      throw DataError(name + ": expected labels below " + std::to_string(kNumClasses) + ", got " +
                      std::to_string(label) + " for record " + std::to_string(r));
    }
  }
  ImageSet set;
  set.n = static_cast<std::int64_t>(n);
  set.channels = kChannels;
  set.height = kSide;
  set.width = kSide;
  set.labels.resize(n);
  set.pixels.resize(n * kImageBytes);
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint8_t* rec = bytes.data() + r * kRecordBytes;
    set.labels[r] = rec[0];
    std::memcpy(set.pixels.data() + r * kImageBytes, rec + 1, kImageBytes);
  }
  return set;
}

ImageSet parse_cifar_python(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  PickleMachine m(bytes.data(), bytes.size(), name);
  const std::uint32_t root_i = m.run();
  const Obj& root = m.at(root_i);
  if (root.kind != Kind::Dict) {
    throw DataError(name + ": expected a pickled dict, got " + kind_name(root.kind));
  }
  // A later duplicate key wins, as in Python.
  const Obj* data = nullptr;
  const Obj* labels = nullptr;
  for (std::size_t j = 0; j + 1 < root.items.size(); j += 2) {
    const Obj& key = m.at(root.items[j]);
    if (key.kind != Kind::Bytes && key.kind != Kind::Str) continue;
    if (key.s == "data") data = &m.at(root.items[j + 1]);
    if (key.s == "labels") labels = &m.at(root.items[j + 1]);
  }
  if (data == nullptr || labels == nullptr) {
    throw DataError(name + ": expected keys 'data' and 'labels' in the pickled dict, missing " +
                    (data == nullptr ? std::string("'data'") : std::string("'labels'")));
  }
  if (data->kind != Kind::Array || !data->built) {
    throw DataError(name + ": expected 'data' to be a numpy uint8 array, got " +
                    kind_name(data->kind));
  }
  if (data->shape.size() != 2 || data->shape[1] != kImageBytes || data->shape[0] == 0) {
    std::string shape;
    for (std::size_t j = 0; j < data->shape.size(); ++j) {
      shape += (j ? ", " : "") + std::to_string(data->shape[j]);
    }
    throw DataError(name + ": expected 'data' of shape (n >= 1, 3072), got (" + shape + ")");
  }
  const std::int64_t n = data->shape[0];
  if (labels->kind != Kind::List) {
    throw DataError(name + ": expected 'labels' to be a list, got " + kind_name(labels->kind));
  }
  if (static_cast<std::int64_t>(labels->items.size()) != n) {
    throw DataError(name + ": expected " + std::to_string(n) +
                    " labels (one per row of 'data'), got " +
                    std::to_string(labels->items.size()));
  }
  ImageSet set;
  set.labels.resize(static_cast<std::size_t>(n));
  for (std::size_t j = 0; j < labels->items.size(); ++j) {
    const Obj& l = m.at(labels->items[j]);
    if (l.kind != Kind::Int || l.i < 0 || l.i >= static_cast<std::int64_t>(kNumClasses)) {
      throw DataError(name + ": expected labels to be ints in 0.." +
                      std::to_string(kNumClasses - 1) + ", got " +
                      (l.kind == Kind::Int ? std::to_string(l.i) : std::string(kind_name(l.kind))) +
                      " for example " + std::to_string(j));
    }
    set.labels[j] = static_cast<std::uint8_t>(l.i);
  }
  const std::string& raw = m.at(data->data).s;
  set.pixels.assign(raw.begin(), raw.end());
  set.n = n;
  set.channels = kChannels;
  set.height = kSide;
  set.width = kSide;
  return set;
}

void append_images(ImageSet& into, const ImageSet& more) {
  if (into.n == 0 && into.pixels.empty()) {
    into = more;
    return;
  }
  if (into.channels != more.channels || into.height != more.height || into.width != more.width) {
    throw DataError("cannot append images of " + std::to_string(more.channels) + "x" +
                    std::to_string(more.height) + "x" + std::to_string(more.width) +
                    " to a set of " + std::to_string(into.channels) + "x" +
                    std::to_string(into.height) + "x" + std::to_string(into.width));
  }
  into.pixels.insert(into.pixels.end(), more.pixels.begin(), more.pixels.end());
  into.labels.insert(into.labels.end(), more.labels.begin(), more.labels.end());
  into.n += more.n;
}

ImageSet read_cifar_binary(const std::vector<std::string>& paths) {
  ImageSet all;
  for (const std::string& path : paths) {
    append_images(all, parse_cifar_binary(read_maybe_gzip(path, kMaxBinaryFile), path));
  }
  return all;
}

ImageSet read_cifar_python(const std::vector<std::string>& paths) {
  ImageSet all;
  for (const std::string& path : paths) {
    append_images(all, parse_cifar_python(read_maybe_gzip(path, kMaxPickleFile), path));
  }
  return all;
}

}  // namespace bnl::data
