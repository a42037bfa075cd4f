// The tensor dataset reader on the HDF5 C API alone (no libtorch, no H5Cpp), so that the fuzz
// harness links nothing but libhdf5. Every check happens before the values it guards are used,
// and every size before anything of that size is allocated.

#include "bnlandscape/io/tensor_dataset.h"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "bnlandscape/core/error.h"

namespace bnl::io {
namespace {

/// A handle closed on scope exit by its own close function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

/// Keeps libhdf5 from printing its error stack while the file is read (the DataError says
/// what went wrong), and restores the caller's handler afterwards.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

/// The innermost description on the current error stack ("" if none), read right after a
/// failed call: it names the cause (a filter not available, a checksum mismatch) where the
/// outer ones only say "H5Dread failed".
std::string hdf5_detail() {
  std::string out;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD,
           [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
             auto* s = static_cast<std::string*>(data);
             if (n == 0 && e->desc != nullptr) *s = e->desc;
             return 0;
           },
           &out);
  // One line: descriptions quote names, which may hold anything.
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

struct Reader {
  std::string path;
  hid_t file = -1;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw DataError(path + ": " + where + ": " + what);
  }

  /// "uint8", "float64", "int32 (big-endian)", "string", ...: what a dataset holds.
  static std::string describe_type(hid_t type) {
    const H5T_class_t cls = H5Tget_class(type);
    const std::size_t bits = H5Tget_size(type) * 8;
    switch (cls) {
      case H5T_INTEGER:
        return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
      case H5T_FLOAT: return "float" + std::to_string(bits);
      case H5T_STRING: return "string";
      case H5T_ENUM: return "enum (e.g. bool)";
      case H5T_COMPOUND: return "compound";
      case H5T_ARRAY: return "array";
      case H5T_VLEN: return "variable-length";
      case H5T_OPAQUE: return "opaque";
      case H5T_BITFIELD: return "bitfield";
      case H5T_REFERENCE: return "reference";
      default: return "an unknown type";
    }
  }

  static std::string describe_shape(const std::vector<hsize_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
  }

  /// Opens dataset `name` ("/train/x"): a missing split group, dataset or a dangling link, or
  /// a group in its place, is a DataError.
  hid_t open_dataset(const std::string& name) const {
    const std::string group = name.substr(0, name.rfind('/'));
    if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0)
      fail(name, "expected a dataset (the layout is /train/x, /train/y, /test/x, /test/y), got no group " + group);
    if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0 || H5Oexists_by_name(file, name.c_str(), H5P_DEFAULT) <= 0)
      fail(name, "expected a dataset (the layout is /train/x, /train/y, /test/x, /test/y), got none");
    Handle obj(H5Oopen(file, name.c_str(), H5P_DEFAULT), H5Oclose);
    if (!obj.ok()) fail(name, "expected a readable dataset, got an object HDF5 cannot open (" + hdf5_detail() + ")");
    if (H5Iget_type(obj.get()) != H5I_DATASET) fail(name, "expected a dataset, got a group or a named datatype");
    const hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    if (d < 0) fail(name, "expected a readable dataset, got one HDF5 cannot open (" + hdf5_detail() + ")");
    return d;
  }

  /// The dims of a simple dataspace; a scalar or null one is a DataError.
  std::vector<hsize_t> dims_of(hid_t dset, const std::string& name, const std::string& expected) const {
    Handle space(H5Dget_space(dset), H5Sclose);
    if (!space.ok()) fail(name, "expected a dataspace, got one HDF5 cannot read (" + hdf5_detail() + ")");
    if (H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE)
      fail(name, "expected " + expected + ", got a scalar or empty (null) dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank < 0 || H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
      fail(name, "expected a dataspace, got one HDF5 cannot read (" + hdf5_detail() + ")");
    return dims;
  }

  /// Refuses a dataset whose declared size is far beyond what it stores (a few KB of file
  /// claiming gigabytes) before allocating it: over 64 MiB and 4096 times its stored bytes.
  void check_stored(hid_t dset, const std::string& name, std::uint64_t bytes) const {
    const std::uint64_t stored = H5Dget_storage_size(dset);
    if (bytes > (std::uint64_t{64} << 20) && bytes / 4096 > stored)
      fail(name, "expected values stored for its declared " + std::to_string(bytes) + " bytes, got " +
                     std::to_string(stored) + " bytes in the file (an unwritten or damaged dataset)");
  }

  template <class T>
  std::vector<T> read_values(hid_t dset, hid_t mem_type, std::uint64_t count, const std::string& name) const {
    std::vector<T> out;
    try {
      out.resize(static_cast<std::size_t>(count));
    } catch (const std::bad_alloc&) {
      fail(name, "expected " + std::to_string(count) + " values to fit in memory, got an allocation failure");
    }
    if (count > 0 && H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      fail(name, "expected readable values, got a read error (" + hdf5_detail() + ")");
    return out;
  }

  /// Reads x of one split into `s` (shape, then u8 or f32); `uint8` says which.
  void read_x(const std::string& split, TensorSplit& s, bool& uint8) const {
    const std::string name = "/" + split + "/x";
    Handle d(open_dataset(name), H5Dclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    const std::string kExpected = "uint8 or float32 [N, C, H, W] (images) or [N, D] (feature rows)";
    const H5T_class_t cls = H5Tget_class(type.get());
    const std::size_t size = H5Tget_size(type.get());
    const bool is_u8 = cls == H5T_INTEGER && size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE;
    const bool is_f32 = cls == H5T_FLOAT && size == 4;
    if (!is_u8 && !is_f32)
      fail(name, "expected " + kExpected + ", got " + describe_type(type.get()) +
                     (cls == H5T_FLOAT ? " (store x.astype(numpy.float32))" : ""));
    const auto dims = dims_of(d.get(), name, kExpected);
    if (dims.size() != 4 && dims.size() != 2)
      fail(name, "expected " + kExpected + ", got rank " + std::to_string(dims.size()) + " " + describe_shape(dims) +
                     (dims.size() == 3 ? " (add a channel axis: x[:, None])" : ""));
    std::uint64_t count = 1;
    for (const hsize_t n : dims) {
      if (n == 0) fail(name, "expected " + kExpected + " with every dimension >= 1, got " + describe_shape(dims));
      if (n > static_cast<std::uint64_t>(kMaxTensorValues) || count > static_cast<std::uint64_t>(kMaxTensorValues) / n)
        fail(name, "expected at most " + std::to_string(kMaxTensorValues) + " values, got " + describe_shape(dims));
      count *= n;
    }
    check_stored(d.get(), name, count * size);
    if (split == "test" && is_u8 != uint8)
      fail(name, "expected the dtype of /train/x (" + std::string(uint8 ? "uint8" : "float32") + "), got " +
                     describe_type(type.get()));
    uint8 = is_u8;
    s.shape.assign(dims.begin(), dims.end());
    if (is_u8) {
      s.u8 = read_values<std::uint8_t>(d.get(), H5T_NATIVE_UINT8, count, name);
      return;
    }
    s.f32 = read_values<float>(d.get(), H5T_NATIVE_FLOAT, count, name);
    const std::int64_t per = static_cast<std::int64_t>(count / dims[0]);
    for (std::size_t i = 0; i < s.f32.size(); ++i) {
      if (!std::isfinite(s.f32[i]))
        fail(name, "expected finite float32 values, got " + std::string(std::isnan(s.f32[i]) ? "NaN" : "Inf") +
                       " in example " + std::to_string(static_cast<std::int64_t>(i) / per) + " (value " +
                       std::to_string(static_cast<std::int64_t>(i) % per) + ")");
    }
  }

  /// Reads y of one split: integer [N] with N the rows of x.
  std::vector<std::int64_t> read_y(const std::string& split, std::int64_t n) const {
    const std::string name = "/" + split + "/y";
    Handle d(open_dataset(name), H5Dclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    const std::string expected = "integer labels [N] with N = " + std::to_string(n) + " (the rows of /" + split + "/x)";
    if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) > 8)
      fail(name, "expected " + expected + ", got " + describe_type(type.get()));
    const auto dims = dims_of(d.get(), name, expected);
    if (dims.size() != 1 || dims[0] != static_cast<hsize_t>(n))
      fail(name, "expected " + expected + ", got shape " + describe_shape(dims));
    // Any integer type converts to int64 exactly but uint64 above 2^63, which HDF5 clips to
    // the int64 maximum: then out of range below.
    return read_values<std::int64_t>(d.get(), H5T_NATIVE_INT64, static_cast<std::uint64_t>(n), name);
  }

  /// A numeric root attribute as doubles (scalar: one value); nullopt-like empty when absent.
  std::vector<double> read_attr(const char* attr, bool& present) const {
    const std::string where = std::string("attribute ") + attr;
    present = H5Aexists(file, attr) > 0;
    if (!present) return {};
    Handle a(H5Aopen(file, attr, H5P_DEFAULT), H5Aclose);
    if (!a.ok()) fail(where, "expected a readable attribute, got one HDF5 cannot open (" + hdf5_detail() + ")");
    Handle type(H5Aget_type(a.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
      fail(where, "expected numbers, got " + describe_type(type.get()));
    Handle space(H5Aget_space(a.get()), H5Sclose);
    const H5S_class_t sc = H5Sget_simple_extent_type(space.get());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (sc == H5S_NULL || rank > 1 || rank < 0) fail(where, "expected a number or a 1-D array, got rank " + std::to_string(rank));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 1 || n > (1 << 24)) fail(where, "expected 1 to 2^24 values, got " + std::to_string(n));
    std::vector<double> v(static_cast<std::size_t>(n));
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()) < 0)
      fail(where, "expected readable values, got a read error (" + hdf5_detail() + ")");
    return v;
  }

  /// mean and std: both or neither, 1 or `channels` finite values, std > 0.
  void read_normalization(TensorDatasetFile& out, std::int64_t channels) const {
    bool has_mean = false, has_std = false;
    const auto mean = read_attr("mean", has_mean);
    const auto sd = read_attr("std", has_std);
    if (has_mean != has_std)
      fail(std::string("attribute ") + (has_mean ? "std" : "mean"),
           "expected mean and std together (per-channel normalisation), got only " + std::string(has_mean ? "mean" : "std"));
    if (!has_mean) return;
    const std::string expected = "1 or " + std::to_string(channels) + " (channels) values";
    for (const auto* v : {&mean, &sd}) {
      const char* which = v == &mean ? "mean" : "std";
      if (v->size() != 1 && static_cast<std::int64_t>(v->size()) != channels)
        fail(std::string("attribute ") + which, "expected " + expected + ", got " + std::to_string(v->size()));
      for (const double x : *v) {
        const bool ok = std::isfinite(x) && std::fabs(x) < 1e30 && (v == &mean || x > 0);
        if (!ok) fail(std::string("attribute ") + which, std::string("expected finite values") + (v == &sd ? " > 0" : "") +
                                                             ", got " + std::to_string(x));
      }
    }
    out.mean.assign(static_cast<std::size_t>(channels), 0.0f);
    out.std.assign(static_cast<std::size_t>(channels), 1.0f);
    for (std::int64_t c = 0; c < channels; ++c) {
      out.mean[c] = static_cast<float>(mean[mean.size() == 1 ? 0 : c]);
      out.std[c] = static_cast<float>(sd[sd.size() == 1 ? 0 : c]);
    }
  }

  /// K from the attribute num_classes, else 1 + the largest training label; then every label
  /// of both splits in 0..K-1.
  void check_labels(TensorDatasetFile& out) const {
    bool has_k = false;
    const auto k = read_attr("num_classes", has_k);
    constexpr std::int64_t kMaxClasses = std::int64_t{1} << 20;
    std::string source;
    if (has_k) {
      if (k.size() != 1 || !(k[0] >= 2 && k[0] <= kMaxClasses) || k[0] != std::floor(k[0]))
        fail("attribute num_classes", "expected one integer in 2.." + std::to_string(kMaxClasses) + ", got " +
                                          (k.size() == 1 ? std::to_string(k[0]) : std::to_string(k.size()) + " values"));
      out.num_classes = static_cast<std::int64_t>(k[0]);
      source = "the attribute num_classes";
    } else {
      const std::int64_t top = *std::max_element(out.train.labels.begin(), out.train.labels.end());
      if (top < 1 || top >= kMaxClasses)
        fail("/train/y", "expected labels 0..K-1 with 2 <= K <= " + std::to_string(kMaxClasses) +
                             " (K = 1 + the largest label, or the root attribute num_classes), got largest label " +
                             std::to_string(top));
      out.num_classes = top + 1;
      source = "1 + the largest training label";
    }
    for (const auto* s : {&out.train, &out.test}) {
      for (std::size_t i = 0; i < s->labels.size(); ++i) {
        const std::int64_t y = s->labels[i];
        if (y < 0 || y >= out.num_classes)
          fail(s == &out.train ? "/train/y" : "/test/y",
               "expected labels in 0.." + std::to_string(out.num_classes - 1) + " (K = " +
                   std::to_string(out.num_classes) + " from " + source + "), got " + std::to_string(y) +
                   " at example " + std::to_string(i));
      }
    }
  }
};

}  // namespace

TensorDatasetFile read_tensor_dataset(const std::string& path) {
  {
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw DataError(path + ": cannot open the data file (" + std::strerror(errno) + ")");
    std::fclose(f);
  }
  QuietErrors quiet;
  const char* kLayout = "an HDF5 file with /train/x, /train/y, /test/x, /test/y (docs/usage.md, \"Your own data\")";
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw DataError(path + ": expected " + std::string(kLayout) + ", got a file that is not HDF5");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok())
    throw DataError(path + ": expected " + std::string(kLayout) + ", got a file HDF5 cannot open (" + hdf5_detail() + ")");
  Reader r{path, file.get()};
  TensorDatasetFile out;
  out.path = path;
  r.read_x("train", out.train, out.uint8);
  r.read_x("test", out.test, out.uint8);
  if (!std::equal(out.train.shape.begin() + 1, out.train.shape.end(), out.test.shape.begin() + 1, out.test.shape.end())) {
    std::vector<hsize_t> tr(out.train.shape.begin(), out.train.shape.end()), te(out.test.shape.begin(), out.test.shape.end());
    r.fail("/test/x", "expected the shape of /train/x but N, " + Reader::describe_shape(tr) + ", got " +
                          Reader::describe_shape(te));
  }
  out.train.labels = r.read_y("train", out.train.shape[0]);
  out.test.labels = r.read_y("test", out.test.shape[0]);
  r.check_labels(out);
  r.read_normalization(out, out.train.shape[1]);
  return out;
}

}  // namespace bnl::io
