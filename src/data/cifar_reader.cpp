// CIFAR-10 readers: binary batches, and python batches read through the restricted pickle
// interpreter (restricted_pickle.h). Only the standard library (and the zlib-based file
// helper): this file is also built into libFuzzer harnesses.

#include "bnlandscape/data/cifar_reader.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/data/gzip_file.h"
#include "bnlandscape/data/restricted_pickle.h"

namespace bnl::data {
namespace {

using pickle::Kind;
using pickle::kind_name;
using pickle::Obj;

constexpr std::int64_t kChannels = 3;
constexpr std::int64_t kSide = 32;
constexpr std::int64_t kImageBytes = kChannels * kSide * kSide;  // 3072
constexpr std::int64_t kRecordBytes = 1 + kImageBytes;           // 3073
constexpr unsigned kNumClasses = 10;
// 50000 python batch files are ~31 MB each; a merged file of all batches is still far below.
constexpr std::size_t kMaxPickleFile = std::size_t(1) << 30;
constexpr std::size_t kMaxBinaryFile = std::size_t(1) << 30;

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
  const pickle::Values m = pickle::load(bytes.data(), bytes.size(), name);
  const Obj& root = m.at(m.root);
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
