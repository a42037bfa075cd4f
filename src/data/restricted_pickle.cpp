// The restricted pickle interpreter's opcode loop (restricted_pickle.h). Only the standard
// library: this file is also built into libFuzzer harnesses.
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

#include "bnlandscape/data/restricted_pickle.h"

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "pickle_machine.h"

namespace bnl::data::pickle {

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
      default: {
        if (push_value(op) || apply_structure(op)) break;
        const bool printable = op >= 0x20 && op < 0x7f;
        fail("unsupported pickle opcode 0x" + std::string(1, "0123456789abcdef"[op >> 4]) +
             std::string(1, "0123456789abcdef"[op & 15]) +
             (printable ? std::string(" '") + static_cast<char>(op) + "'" : std::string()));
      }
    }
    first = false;
  }
}

bool PickleMachine::push_value(std::uint8_t op) {
  switch (op) {
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
    default: return false;
  }
  return true;
}

bool PickleMachine::apply_structure(std::uint8_t op) {
  switch (op) {
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
    default: return false;
  }
  return true;
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

Values load(const std::uint8_t* p, std::size_t n, const std::string& name) {
  PickleMachine m(p, n, name);
  Values out;
  out.root = m.run();
  out.objects = m.take_values();
  return out;
}

}  // namespace bnl::data::pickle
