// The constructors a CIFAR-10 python batch calls, imitated by the restricted pickle machine:
// numpy's _reconstruct, ndarray and dtype (with their BUILD states) and _codecs.encode. Each
// records the value the real one would produce; nothing is ever called.

#include <limits>
#include <string>
#include <vector>

#include "pickle_machine.h"

namespace bnl::data::pickle {

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

}  // namespace bnl::data::pickle
