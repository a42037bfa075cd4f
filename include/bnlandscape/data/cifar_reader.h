#pragma once
/// \file
/// CIFAR-10 readers: the binary version (cifar-10-batches-bin/*.bin, records of 1 label byte +
/// 3072 pixel bytes, channel-major 3x32x32) and the python version (cifar-10-batches-py/,
/// pickled dicts with b'data' uint8 [10000, 3072] and b'labels' list of ints). The python
/// reader understands exactly that pickle structure and nothing else: it never executes
/// pickle opcodes generally, so a hostile file cannot run code.

#include <cstdint>
#include <string>
#include <vector>

#include "bnlandscape/data/image_set.h"

namespace bnl::data {

/// Parses one binary CIFAR-10 batch held in memory (size a positive multiple of 3073,
/// labels < 10). `name` only appears in error messages.
ImageSet parse_cifar_binary(const std::vector<std::uint8_t>& bytes, const std::string& name);

/// Parses one python-pickle CIFAR-10 batch held in memory (protocol 2 as shipped, a dict with
/// at least b'data' (numpy uint8 array [n, 3072]) and b'labels' (list of n ints < 10); other
/// keys such as b'batch_label' and b'filenames' are skipped). Anything else is a DataError.
ImageSet parse_cifar_python(const std::vector<std::uint8_t>& bytes, const std::string& name);

/// Reads and concatenates several binary batch files.
ImageSet read_cifar_binary(const std::vector<std::string>& paths);

/// Reads and concatenates several python batch files.
ImageSet read_cifar_python(const std::vector<std::string>& paths);

/// Appends `more` to `into` (same image shape required).
void append_images(ImageSet& into, const ImageSet& more);

}  // namespace bnl::data
