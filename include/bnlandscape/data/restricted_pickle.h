#pragma once
/// \file
/// A whitelist interpreter of Python pickles (opcodes in CPython's Lib/pickletools.py), just
/// wide enough for the CIFAR-10 python batches: protocols 2 to 4, ints, bytes, str, tuples,
/// lists, dicts, memo operations, and only the globals needed to rebuild a uint8 numpy array
/// and a bytes object. Nothing is ever called: the interpreter records the values the few
/// whitelisted constructors would have produced, so a hostile file cannot run code, and its
/// memory stays within a few times the file's size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bnl::data::pickle {

/// The Python types a restricted pickle can hold.
enum class Kind : std::uint8_t {
  None, Bool, Int, Bytes, Str, Tuple, List, Dict, Global, Array, Dtype
};

/// One pickle value. Containers refer to other values by index into the interpreter's arena, so
/// cycles built through the memo and deep nesting cost nothing to hold or to destroy.
struct Obj {
  Kind kind = Kind::None;
  std::int64_t i = 0;                // Bool, Int; GlobalId for Global
  std::string s;                     // Bytes, Str (UTF-8); Dtype descr
  std::vector<std::uint32_t> items;  // Tuple, List; Dict as key, value, key, value...
  std::vector<std::int64_t> shape;   // Array
  std::uint32_t data = 0;            // Array: index of its Bytes
  bool built = false;                // Array, Dtype: BUILD applied
};

/// Name of a kind in messages ("bytes", "numpy.ndarray", ...).
const char* kind_name(Kind k);

/// Every value a pickle made, and which of them the pickle returned.
struct Values {
  std::vector<Obj> objects;  ///< the arena that containers index into
  std::uint32_t root = 0;    ///< index of the value STOP returned

  /// The value at index `i` (from root or a container's items).
  const Obj& at(std::uint32_t i) const { return objects[i]; }
};

/// Runs the pickle held in p[0, n) to its STOP. Any opcode or global outside the whitelist, a
/// truncated or malformed stream, or a size beyond the bounds is a DataError naming `name`, the
/// byte offset, and that a CIFAR-10 python batch was expected.
Values load(const std::uint8_t* p, std::size_t n, const std::string& name);

}  // namespace bnl::data::pickle
