#include "bnlandscape/io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "h5_util.h"

namespace bnl::io {
namespace {

using detail::Failure;
using detail::guarded;

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

/// h5py's representation of numpy bool: an int8 enum {FALSE = 0, TRUE = 1}.
H5::DataType bool_type() {
  H5::EnumType type(sizeof(std::int8_t));
  std::int8_t value = 0;
  type.insert("FALSE", &value);
  value = 1;
  type.insert("TRUE", &value);
  return H5::DataType(type);
}

/// In-memory HDF5 type of a torch dtype; nullopt where there is none.
std::optional<H5::DataType> h5_type(torch::ScalarType st) {
  switch (st) {
    case torch::kFloat: return H5::DataType(H5::PredType::NATIVE_FLOAT);
    case torch::kDouble: return H5::DataType(H5::PredType::NATIVE_DOUBLE);
    case torch::kLong: return H5::DataType(H5::PredType::NATIVE_INT64);
    case torch::kInt: return H5::DataType(H5::PredType::NATIVE_INT32);
    case torch::kShort: return H5::DataType(H5::PredType::NATIVE_INT16);
    case torch::kChar: return H5::DataType(H5::PredType::NATIVE_INT8);
    case torch::kByte: return H5::DataType(H5::PredType::NATIVE_UINT8);
    case torch::kBool: return bool_type();
    default: return std::nullopt;
  }
}

std::string describe(const H5::DataType& type) {
  const std::string bits = std::to_string(type.getSize() * 8);
  switch (type.getClass()) {
    case H5T_INTEGER:
      return (H5Tget_sign(type.getId()) == H5T_SGN_NONE ? "uint" : "int") + bits;
    case H5T_FLOAT: return "float" + bits;
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_REFERENCE: return "reference";
    default: return "HDF5 type class " + std::to_string(static_cast<int>(type.getClass()));
  }
}

/// Torch dtype for a stored dataset type; nullopt where there is none.
std::optional<torch::ScalarType> torch_type(const H5::DataSet& ds) {
  const H5T_class_t cls = ds.getTypeClass();
  if (cls == H5T_FLOAT) {
    const std::size_t size = ds.getFloatType().getSize();
    if (size == 4) return torch::kFloat;
    if (size == 8) return torch::kDouble;
  } else if (cls == H5T_INTEGER) {
    const H5::IntType type = ds.getIntType();
    const std::size_t size = type.getSize();
    if (type.getSign() == H5T_SGN_NONE) {
      if (size == 1) return torch::kByte;
    } else {
      if (size == 1) return torch::kChar;
      if (size == 2) return torch::kShort;
      if (size == 4) return torch::kInt;
      if (size == 8) return torch::kLong;
    }
  } else if (cls == H5T_ENUM) {
    const H5::EnumType type = ds.getEnumType();
    if (type.getSize() == 1 && type.getNmembers() == 2) {
      // Matching members by name is what the HDF5 conversion to bool_type() relies on.
      try {
        std::int8_t f = -1, t = -1;
        type.getMemberValue(static_cast<unsigned>(type.getMemberIndex("FALSE")), &f);
        type.getMemberValue(static_cast<unsigned>(type.getMemberIndex("TRUE")), &t);
        if (f == 0 && t == 1) return torch::kBool;
      } catch (const H5::Exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::string link_name(const H5::Group& group, H5_index_t index, hsize_t i) {
  const ssize_t size =
      H5Lget_name_by_idx(group.getId(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
  detail::check(size, "H5Lget_name_by_idx");
  std::string name(static_cast<std::size_t>(size) + 1, '\0');
  detail::check(H5Lget_name_by_idx(group.getId(), ".", index, H5_ITER_INC, i, name.data(),
                                   name.size(), H5P_DEFAULT),
                "H5Lget_name_by_idx");
  name.resize(static_cast<std::size_t>(size));
  return name;
}

/// Creation order where the group tracks it, so a checkpoint reads back in model order.
H5_index_t iteration_index(const H5::Group& group) {
  const hid_t gcpl = H5Gget_create_plist(group.getId());
  detail::check(gcpl, "H5Gget_create_plist");
  unsigned flags = 0;
  const herr_t status = H5Pget_link_creation_order(gcpl, &flags);
  H5Pclose(gcpl);
  detail::check(status, "H5Pget_link_creation_order");
  return (flags & H5P_CRT_ORDER_TRACKED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}


}  // namespace

namespace detail {

bool supported_dtype(torch::ScalarType st) { return h5_type(st).has_value(); }

void write_tensor(const H5::Group& group, const std::string& name, const torch::Tensor& tensor) {
  const auto type = h5_type(tensor.scalar_type());
  if (!type) {
    throw Failure("tensor " + in_quotes(name) + " has unsupported dtype " +
                  std::string(c10::toString(tensor.scalar_type())) +
                  " (float32, float64, int8/16/32/64, uint8 and bool are supported)");
  }
  const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  const H5::DataSpace space = dims.empty()
                                  ? H5::DataSpace(H5S_SCALAR)
                                  : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
  const H5::DataSet ds = group.createDataSet(name, *type, space);
  if (t.numel() > 0) ds.write(t.data_ptr(), *type);
}

}  // namespace detail

std::string checkpoint_group(std::int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/checkpoints/step_%07lld", static_cast<long long>(step));
  return buf;
}

std::vector<std::pair<std::string, torch::Tensor>> read_tensor_group(const std::string& path,
                                                                     const std::string& group) {
  const std::string gpath = detail::absolute_path(group);
  const std::string what = "reading tensors from group " + in_quotes(gpath);
  detail::require_readable_file(path);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  guarded(path, what, [&] {
    const H5::H5File file(path, H5F_ACC_RDONLY);
    if (!detail::path_exists(file, gpath) || file.childObjType(gpath) != H5O_TYPE_GROUP) {
      throw Failure("no such group");
    }
    const H5::Group g = file.openGroup(gpath);
    const H5_index_t index = iteration_index(g);
    const hsize_t n = g.getNumObjs();
    for (hsize_t i = 0; i < n; ++i) {
      const std::string name = link_name(g, index, i);
      if (g.childObjType(name) != H5O_TYPE_DATASET) continue;
      const H5::DataSet ds = g.openDataSet(name);
      const auto st = torch_type(ds);
      if (!st) {
        throw Failure("dataset " + in_quotes(name) + " has unsupported type " +
                      describe(ds.getDataType()) +
                      " (float32, float64, int8/16/32/64, uint8 and bool are supported)");
      }
      const H5::DataSpace space = ds.getSpace();
      std::vector<std::int64_t> sizes;
      if (space.getSimpleExtentType() == H5S_SIMPLE) {
        std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
        space.getSimpleExtentDims(dims.data());
        sizes.assign(dims.begin(), dims.end());
      } else if (space.getSimpleExtentType() != H5S_SCALAR) {
        throw Failure("dataset " + in_quotes(name) + " has an empty (null) dataspace");
      }
      // A few bytes of HDF5 can declare a dataset of 2^40 values that was never written (it
      // reads as fill values). Allocate only what the stored bytes can account for: deflate
      // expands data at most ~1032 times (4096 leaves room for other filters), and small datasets
      // are always fine.
      long double values = 1;
      for (auto d : sizes) values *= static_cast<long double>(d);
      const long double bytes = values * static_cast<long double>(torch::elementSize(*st));
      const long double stored = static_cast<long double>(ds.getStorageSize());
      constexpr long double kAlwaysFine = 64.0L * 1024 * 1024;
      if (bytes > kAlwaysFine && bytes > 4096.0L * stored) {
        throw Failure("dataset " + in_quotes(name) + " declares " + std::to_string(static_cast<double>(bytes)) +
                      " bytes but stores " + std::to_string(static_cast<double>(stored)) +
                      " (expected the data to be present)");
      }
      torch::Tensor t = torch::empty(sizes, torch::TensorOptions().dtype(*st));
      if (t.numel() > 0) ds.read(t.data_ptr(), *h5_type(*st));
      out.emplace_back(name, std::move(t));
    }
  });
  return out;
}

std::vector<std::string> list_checkpoints(const std::string& path) {
  const std::string what = "listing checkpoints";
  detail::require_readable_file(path);
  std::vector<std::pair<long long, std::string>> found;
  guarded(path, what, [&] {
    const H5::H5File file(path, H5F_ACC_RDONLY);
    if (!detail::path_exists(file, "/checkpoints")) return;
    const H5::Group g = file.openGroup("/checkpoints");
    const hsize_t n = g.getNumObjs();
    for (hsize_t i = 0; i < n; ++i) {
      const std::string name = g.getObjnameByIdx(i);
      const std::string digits = name.size() > 5 ? name.substr(5) : "";
      if (name.compare(0, 5, "step_") != 0 || digits.empty() || digits.size() > 18 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          g.childObjType(name) != H5O_TYPE_GROUP) {
        continue;
      }
      found.emplace_back(std::stoll(digits), "/checkpoints/" + name);
    }
  });
  // By number, not by name: steps past 9,999,999 get more than 7 digits.
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace bnl::io
