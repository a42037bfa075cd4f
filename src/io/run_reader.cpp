#include "bnlandscape/io/run_reader.h"

#include <H5Cpp.h>

#include "h5_util.h"

namespace bnl::io {

struct RunReader::Impl {
  std::string path;
  H5::H5File file;
};

using detail::guarded;

RunReader::RunReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  detail::require_readable_file(path);
  impl_->file = guarded(path, "opening for reading", [&] { return H5::H5File(path, H5F_ACC_RDONLY); });
}

RunReader::~RunReader() = default;

const std::string& RunReader::path() const { return impl_->path; }

bool RunReader::exists(const std::string& p) const {
  return guarded(impl_->path, "looking up '" + p + "'",
                 [&] { return detail::path_exists(impl_->file, detail::absolute_path(p)); });
}

bool RunReader::is_dataset(const std::string& p) const {
  if (!exists(p)) return false;
  return guarded(impl_->path, "inspecting '" + p + "'", [&] {
    return impl_->file.childObjType(detail::absolute_path(p)) == H5O_TYPE_DATASET;
  });
}

namespace {

/// Calls f with the group or dataset at `object` (both are H5Objects, whose destructor is
/// protected, so they are held by value here).
template <typename F>
auto with_object(const H5::H5File& file, const std::string& object, F&& f) {
  const std::string p = detail::absolute_path(object);
  if (p != "/" && file.childObjType(p) == H5O_TYPE_DATASET) {
    H5::DataSet ds = file.openDataSet(p);
    return f(static_cast<H5::H5Object&>(ds));
  }
  H5::Group g = file.openGroup(p);
  return f(static_cast<H5::H5Object&>(g));
}

}  // namespace

std::optional<std::string> RunReader::string_attr(const std::string& name, const std::string& object) const {
  return guarded(impl_->path, "reading attribute '" + name + "' of '" + object + "'", [&]() -> std::optional<std::string> {
    return with_object(impl_->file, object, [&](H5::H5Object& obj) -> std::optional<std::string> {
      if (!obj.attrExists(name)) return std::nullopt;
      H5::Attribute a = obj.openAttribute(name);
      if (a.getTypeClass() != H5T_STRING) return std::nullopt;
      std::string value;
      a.read(a.getStrType(), value);
      return value;
    });
  });
}

std::optional<double> RunReader::number_attr(const std::string& name, const std::string& object) const {
  return guarded(impl_->path, "reading attribute '" + name + "' of '" + object + "'", [&]() -> std::optional<double> {
    return with_object(impl_->file, object, [&](H5::H5Object& obj) -> std::optional<double> {
      if (!obj.attrExists(name)) return std::nullopt;
      H5::Attribute a = obj.openAttribute(name);
      const auto cls = a.getTypeClass();
      if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || a.getSpace().getSimpleExtentNpoints() != 1) return std::nullopt;
      double v = 0;
      a.read(H5::PredType::NATIVE_DOUBLE, &v);
      return v;
    });
  });
}

std::vector<std::string> RunReader::string_list_attr(const std::string& name, const std::string& object) const {
  return guarded(impl_->path, "reading attribute '" + name + "' of '" + object + "'", [&] {
    std::vector<std::string> out;
    H5::Attribute a;
    const bool found = with_object(impl_->file, object, [&](H5::H5Object& obj) {
      if (!obj.attrExists(name)) return false;
      a = obj.openAttribute(name);
      return true;
    });
    if (!found) return out;
    if (a.getTypeClass() != H5T_STRING) return out;
    H5::StrType type = a.getStrType();
    const hssize_t n = a.getSpace().getSimpleExtentNpoints();
    if (type.isVariableStr()) {
      std::vector<char*> raw(static_cast<std::size_t>(n), nullptr);
      a.read(type, raw.data());
      for (char* s : raw) out.emplace_back(s ? s : "");
      H5Dvlen_reclaim(type.getId(), a.getSpace().getId(), H5P_DEFAULT, raw.data());
    } else {
      const std::size_t len = type.getSize();
      std::vector<char> buf(len * static_cast<std::size_t>(n));
      a.read(type, buf.data());
      for (hssize_t i = 0; i < n; ++i) {
        std::string s(buf.data() + i * len, len);
        s.erase(s.find_last_not_of('\0') + 1);
        out.push_back(s);
      }
    }
    return out;
  });
}

std::vector<std::string> RunReader::list(const std::string& group) const {
  return guarded(impl_->path, "listing '" + group + "'", [&] {
    std::vector<std::string> out;
    H5::Group g = impl_->file.openGroup(detail::absolute_path(group));
    const hsize_t n = g.getNumObjs();
    for (hsize_t i = 0; i < n; ++i) out.push_back(g.getObjnameByIdx(i));
    return out;
  });
}

ArrayData RunReader::read(const std::string& p) const {
  return guarded(impl_->path, "reading dataset '" + p + "'", [&] {
    ArrayData out;
    H5::DataSet ds = impl_->file.openDataSet(detail::absolute_path(p));
    const auto cls = ds.getTypeClass();
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw detail::Failure("expected a numeric dataset");
    H5::DataSpace space = ds.getSpace();
    const int rank = space.getSimpleExtentNdims();
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    space.getSimpleExtentDims(dims.data());
    std::size_t count = 1;
    for (hsize_t d : dims) {
      out.dims.push_back(static_cast<std::int64_t>(d));
      count *= static_cast<std::size_t>(d);
    }
    out.values.resize(count);
    if (count > 0) ds.read(out.values.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
  });
}

}  // namespace bnl::io
