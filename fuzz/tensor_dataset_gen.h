// The tensor dataset harness's generator and oracle, shared by the libFuzzer harness
// (fuzz/tensor_dataset_fuzz.cpp, clang with sanitizers) and the replay of its seed corpus in
// the ordinary test build (tests/io/tensor_dataset_fuzz_corpus_test.cpp, gcc): both call
// check_one on the same bytes.
//
// libhdf5's parsing of corrupt bytes is not ours to fix, so, as for the checkpoint harness,
// the input is not an HDF5 file: it chooses what a *valid* file written with the HDF5 C API
// holds - per split a group or not (or a dataset in its place), x and y datasets or not (or a
// group, or a dangling soft link), their dtypes (uint8, float32 in both byte orders, float64,
// int8/16, uint16, int32/64 in both byte orders, uint64, strings, h5py's bool enum), ranks 0-5
// (scalar and null dataspaces), dims 0-7, contiguous / compact / chunked layouts with gzip,
// shuffle and fletcher32, values from the input (NaN, Inf and extreme labels included), and
// root attributes mean / std / num_classes of assorted types, lengths and values - and then
// reads it with io::read_tensor_dataset. The result must be either a TensorDatasetFile that
// satisfies every documented guarantee and holds exactly the values written, or a DataError
// whose one-line message starts with the file's name; nothing else may escape, and no HDF5
// handle may stay open.
#pragma once

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bnlandscape/core/error.h"
#include "bnlandscape/io/tensor_dataset.h"

namespace bnl::fuzz::tensors {

/// Reads the input as a stream of choices; past its end every choice is 0.
class Choices {
 public:
  Choices(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  std::uint8_t byte() { return i_ < n_ ? p_[i_++] : 0; }
  /// A value in 0..k-1.
  unsigned pick(unsigned k) { return k == 0 ? 0 : byte() % k; }
  bool flag() { return byte() & 1; }
  void bytes(void* out, std::size_t size) {
    auto* o = static_cast<std::uint8_t*>(out);
    for (std::size_t j = 0; j < size; ++j) o[j] = byte();
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t i_ = 0;
};

enum class X { U8, F32, F32BE, F64, I8, I16, U16, String, Count };
enum class Y { I64, I32BE, U8, I8, U64, I64BE, F32, BoolEnum, String, Count };

/// What one split's x and y were written as (for the oracle).
struct Written {
  bool x_ok = false, y_ok = false;  // a readable dataset of an accepted type and rank
  bool x_u8 = false;
  std::vector<hsize_t> x_dims, y_dims;
  std::vector<std::uint8_t> x_u8_values;
  std::vector<float> x_f32_values;  // native order, as read back
  std::vector<std::int64_t> y_values;
};

inline hid_t x_type(X t) {
  switch (t) {
    case X::U8: return H5Tcopy(H5T_STD_U8LE);
    case X::F32: return H5Tcopy(H5T_IEEE_F32LE);
    case X::F32BE: return H5Tcopy(H5T_IEEE_F32BE);
    case X::F64: return H5Tcopy(H5T_IEEE_F64LE);
    case X::I8: return H5Tcopy(H5T_STD_I8LE);
    case X::I16: return H5Tcopy(H5T_STD_I16LE);
    case X::U16: return H5Tcopy(H5T_STD_U16LE);
    default: {
      const hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, 4);
      return s;
    }
  }
}

inline hid_t y_type(Y t) {
  switch (t) {
    case Y::I64: return H5Tcopy(H5T_STD_I64LE);
    case Y::I32BE: return H5Tcopy(H5T_STD_I32BE);
    case Y::U8: return H5Tcopy(H5T_STD_U8LE);
    case Y::I8: return H5Tcopy(H5T_STD_I8LE);
    case Y::U64: return H5Tcopy(H5T_STD_U64LE);
    case Y::I64BE: return H5Tcopy(H5T_STD_I64BE);
    case Y::F32: return H5Tcopy(H5T_IEEE_F32LE);
    case Y::BoolEnum: {
      const hid_t e = H5Tenum_create(H5T_NATIVE_INT8);
      const std::int8_t f = 0, t1 = 1;
      H5Tenum_insert(e, "FALSE", &f);
      H5Tenum_insert(e, "TRUE", &t1);
      return e;
    }
    default: {
      const hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, 3);
      return s;
    }
  }
}

/// A creation property list for `dims`: contiguous, compact (when small), or chunked with
/// filters.
inline hid_t layout(Choices& c, const std::vector<hsize_t>& dims, std::size_t elem_size) {
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dims.empty()) return dcpl;
  hsize_t count = 1;
  bool zero = false;
  for (hsize_t d : dims) {
    count *= d;
    zero = zero || d == 0;
  }
  const unsigned kind = c.pick(3);
  if (kind == 1 && count * elem_size < 8000) {
    H5Pset_layout(dcpl, H5D_COMPACT);
  } else if (kind == 2 && !zero) {
    std::vector<hsize_t> chunk(dims.size());
    for (std::size_t j = 0; j < dims.size(); ++j) chunk[j] = 1 + c.pick(static_cast<unsigned>(dims[j]));
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    const unsigned f = c.byte();
    if (f & 1) H5Pset_shuffle(dcpl);
    if (f & 2) H5Pset_deflate(dcpl, 1 + (f >> 4) % 9);
    if (f & 4) H5Pset_fletcher32(dcpl);
  }
  return dcpl;
}

/// Writes a dataset `name` of `type` with `dims` (empty: scalar; `null`: null dataspace) and
/// `size` bytes per element from the input, which it returns.
inline std::vector<std::uint8_t> write_dataset(Choices& c, hid_t file, const char* name, hid_t type,
                                               const std::vector<hsize_t>& dims, bool null) {
  const std::size_t elem = H5Tget_size(type);
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  const hid_t space = null ? H5Screate(H5S_NULL)
                           : dims.empty() ? H5Screate(H5S_SCALAR)
                                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dcpl = null ? H5Pcreate(H5P_DATASET_CREATE) : layout(c, dims, elem);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t d = H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
  std::vector<std::uint8_t> raw;
  if (!null) {
    raw.resize(static_cast<std::size_t>(count) * elem);
    // Values: mostly small (labels in range, ordinary floats), from the input otherwise.
    const unsigned mode = c.pick(4);
    for (std::size_t j = 0; j < raw.size(); ++j) raw[j] = mode == 0 ? c.byte() : (j % elem == 0 ? c.pick(4) : 0);
    if (H5Tget_class(type) == H5T_ENUM)
      for (auto& b : raw) b &= 1;
    if (H5Tget_class(type) == H5T_FLOAT && mode != 0) {
      for (std::size_t j = 0; j < count; ++j) {
        // Small exact floats in the type's own order.
        const float v = static_cast<float>(c.pick(8)) * 0.5f;
        if (elem == 4) {
          std::uint32_t bits;
          std::memcpy(&bits, &v, 4);
          if (H5Tget_order(type) == H5T_ORDER_BE) bits = __builtin_bswap32(bits);
          std::memcpy(&raw[j * 4], &bits, 4);
        } else {
          const double dv = v;
          std::memcpy(&raw[j * 8], &dv, 8);
        }
      }
    }
    if (count > 0 && c.pick(8) != 0) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
    else std::fill(raw.begin(), raw.end(), 0);  // never written: the fill value, 0
  }
  H5Dclose(d);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  return raw;
}

inline std::vector<hsize_t> pick_dims(Choices& c, bool& null, bool x) {
  const unsigned r = c.pick(x ? 8 : 5);
  null = r == 7;
  // x: mostly rank 2 or 4; y: mostly rank 1.
  const unsigned rank = x ? (r < 3 ? 2 : r < 6 ? 4 : r == 6 ? 3 : 0) : (r < 3 ? 1 : r == 3 ? 2 : 0);
  std::vector<hsize_t> dims(rank);
  for (auto& d : dims) d = c.pick(8) == 0 ? 0 : 1 + c.pick(6);
  return dims;
}

/// Writes one split; what it wrote goes into `w`. `n_hint` (train's N) makes y's N often right.
inline void write_split(Choices& c, hid_t file, const std::string& split, Written& w, hsize_t n_hint) {
  const unsigned shape = c.pick(16);
  if (shape == 0) return;  // no group
  if (shape == 1) {        // a dataset where the group belongs
    std::vector<hsize_t> one{1};
    const hid_t t = H5Tcopy(H5T_STD_U8LE);
    write_dataset(c, file, ("/" + split).c_str(), t, one, false);
    H5Tclose(t);
    return;
  }
  // x
  const unsigned xs = c.pick(16);
  const std::string xname = "/" + split + "/x", yname = "/" + split + "/y";
  if (xs == 0) {
    H5Gclose(H5Gcreate2(file, ("/" + split).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  } else if (xs == 1) {
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Gclose(H5Gcreate2(file, xname.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT));
    H5Pclose(lcpl);
  } else {
    // Mostly the accepted types (uint8, float32 in either byte order), sometimes any.
    const X t = static_cast<X>(c.pick(4) == 0 ? c.pick(static_cast<unsigned>(X::Count)) : c.pick(3));
    bool null = false;
    auto dims = pick_dims(c, null, true);
    const hid_t type = x_type(t);
    auto raw = write_dataset(c, file, xname.c_str(), type, dims, null);
    H5Tclose(type);
    w.x_ok = !null && (t == X::U8 || t == X::F32 || t == X::F32BE) && (dims.size() == 2 || dims.size() == 4);
    w.x_u8 = t == X::U8;
    w.x_dims = dims;
    if (w.x_u8) w.x_u8_values = raw;
    if (t == X::F32 || t == X::F32BE) {
      w.x_f32_values.resize(raw.size() / 4);
      for (std::size_t j = 0; j < w.x_f32_values.size(); ++j) {
        std::uint32_t bits;
        std::memcpy(&bits, &raw[j * 4], 4);
        if (t == X::F32BE) bits = __builtin_bswap32(bits);
        std::memcpy(&w.x_f32_values[j], &bits, 4);
      }
    }
    if (!dims.empty() && n_hint == 0) n_hint = dims[0];
  }
  // y
  const unsigned ys = c.pick(16);
  if (ys == 0) return;
  if (ys == 1) {
    H5Lcreate_soft("/nowhere", file, yname.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    return;
  }
  const Y t = static_cast<Y>(c.pick(8) == 0 ? c.pick(static_cast<unsigned>(Y::Count)) : c.pick(3));
  bool null = false;
  auto dims = pick_dims(c, null, false);
  if (dims.size() == 1 && c.pick(4) != 0 && !w.x_dims.empty()) dims[0] = w.x_dims[0];
  const hid_t type = y_type(t);
  auto raw = write_dataset(c, file, yname.c_str(), type, dims, null);
  const bool integer = t != Y::F32 && t != Y::BoolEnum && t != Y::String;
  w.y_ok = !null && integer && dims.size() == 1;
  w.y_dims = dims;
  if (w.y_ok) {
    // As the reader gets them: HDF5's conversion of the stored type to int64, in place.
    w.y_values.resize(dims[0]);
    std::vector<std::uint8_t> buf(dims[0] * 8);
    if (dims[0] > 0) {
      std::memcpy(buf.data(), raw.data(), raw.size());
      H5Tconvert(type, H5T_NATIVE_INT64, dims[0], buf.data(), nullptr, H5P_DEFAULT);
      std::memcpy(w.y_values.data(), buf.data(), dims[0] * 8);
    }
  }
  H5Tclose(type);
}

/// Writes the root attribute `name` from the input (type, length, values), or nothing.
inline void write_attr(Choices& c, hid_t file, const char* name, hsize_t channels) {
  const unsigned kind = c.pick(8);
  if (kind == 0 || kind > 5) return;
  hsize_t n = c.pick(3) == 0 ? 1 : channels;
  if (c.pick(8) == 0) n = c.pick(5);
  const hid_t type = kind == 1 ? H5Tcopy(H5T_STD_I32LE) : kind == 5 ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_IEEE_F64LE);
  if (kind == 5) H5Tset_size(type, 2);
  const hid_t space = (n == 1 && c.flag()) ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
  const hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<std::uint8_t> raw(std::max<hsize_t>(n, 1) * H5Tget_size(type));
  if (kind == 2 || kind == 3) {
    for (hsize_t j = 0; j < std::max<hsize_t>(n, 1); ++j) {
      const double v = kind == 2 ? 0.1 * c.pick(20) : std::ldexp(static_cast<double>(c.byte()) - 128, c.pick(16) * 8);
      std::memcpy(&raw[j * 8], &v, 8);
    }
  } else {
    c.bytes(raw.data(), raw.size());
  }
  if (n > 0) H5Awrite(a, type, raw.data());
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
}

/// Generates a file at `path` from the input, reads it, and checks the result. Returns "" when
/// every guarantee held, else what broke; `accepted` (if given) says whether the file was read.
inline std::string check_one(const std::uint8_t* data, std::size_t size, const std::string& path,
                             bool* accepted = nullptr) {
  if (accepted != nullptr) *accepted = false;
  // Objects open before (a test program's own, HDF5's C++ library's) are not the reader's.
  const ssize_t open_before = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  Choices c(data, size);
  Written tr, te;
  {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (c.flag()) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) return "generator: cannot create " + path;
    write_split(c, file, "train", tr, 0);
    write_split(c, file, "test", te, tr.x_dims.empty() ? 0 : tr.x_dims[0]);
    const hsize_t channels = tr.x_dims.size() >= 2 ? tr.x_dims[1] : 1;
    write_attr(c, file, "mean", channels);
    write_attr(c, file, "std", channels);
    write_attr(c, file, "num_classes", 1);
    H5Fclose(file);
    H5Pclose(fapl);
  }
  std::string problem;
  try {
    const io::TensorDatasetFile f = io::read_tensor_dataset(path);
    if (accepted != nullptr) *accepted = true;
    // Accepted: every guarantee, and exactly the values written.
    if (!tr.x_ok || !te.x_ok || !tr.y_ok || !te.y_ok) problem = "accepted a file with a bad dataset";
    if (f.num_classes < 2) problem = "num_classes < 2";
    for (const auto* pair : {&f.train, &f.test}) {
      const Written& w = pair == &f.train ? tr : te;
      const auto& s = *pair;
      if (s.shape.size() != 2 && s.shape.size() != 4) problem = "rank not 2 or 4";
      std::uint64_t count = 1;
      for (const auto d : s.shape) {
        if (d < 1) problem = "a dimension < 1";
        count *= static_cast<std::uint64_t>(d);
      }
      if (std::vector<hsize_t>(s.shape.begin(), s.shape.end()) != w.x_dims) problem = "shape differs from the written one";
      if (f.uint8 != w.x_u8) problem = "dtype differs";
      if (f.uint8 && (s.u8 != w.x_u8_values || !s.f32.empty())) problem = "uint8 values differ";
      if (!f.uint8) {
        if (!s.u8.empty() || s.f32.size() != count) problem = "float32 size";
        for (std::size_t j = 0; j < s.f32.size() && j < w.x_f32_values.size(); ++j) {
          if (!std::isfinite(s.f32[j])) problem = "non-finite value accepted";
          if (std::memcmp(&s.f32[j], &w.x_f32_values[j], 4) != 0) problem = "float32 values differ";
        }
      }
      if (s.labels != w.y_values || s.labels.size() != static_cast<std::size_t>(s.shape[0])) problem = "labels differ";
      for (const auto y : s.labels)
        if (y < 0 || y >= f.num_classes) problem = "label out of range accepted";
    }
    if (f.train.shape.size() == f.test.shape.size() &&
        !std::equal(f.train.shape.begin() + 1, f.train.shape.end(), f.test.shape.begin() + 1))
      problem = "test shape differs from train's";
    const std::size_t channels = f.train.shape.size() >= 2 ? static_cast<std::size_t>(f.train.shape[1]) : 0;
    if (f.mean.empty() != f.std.empty()) problem = "mean without std";
    if (!f.mean.empty() && (f.mean.size() != channels || f.std.size() != channels)) problem = "mean/std length";
    for (const float s : f.std)
      if (!(s > 0) || !std::isfinite(s)) problem = "std not > 0";
    for (const float m : f.mean)
      if (!std::isfinite(m)) problem = "mean not finite";
  } catch (const bnl::DataError& e) {
    const std::string m = e.what();
    if (m.rfind(path + ": ", 0) != 0) problem = "DataError not naming the file: " + m;
    if (m.find('\n') != std::string::npos) problem = "DataError of several lines: " + m;
  } catch (const std::exception& e) {
    problem = std::string("unexpected exception: ") + e.what();
  }
  if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != open_before)
    problem = "HDF5 objects left open: " + std::to_string(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) - open_before);
  return problem;
}

}  // namespace bnl::fuzz::tensors
