#include "run_file_impl.h"

namespace bnl::io {

using detail::Failure;
using detail::guarded;
using detail::in_quotes;

namespace {

template <class T>
struct NativeType;
template <>
struct NativeType<double> {
  static const H5::PredType& get() { return H5::PredType::NATIVE_DOUBLE; }
};
template <>
struct NativeType<std::int64_t> {
  static const H5::PredType& get() { return H5::PredType::NATIVE_INT64; }
};

}  // namespace

template <class T>
void RunFile::write_typed_array(const std::string& path, const std::vector<T>& values,
                          const std::vector<std::int64_t>& dims, const std::string& units,
                          const std::string& description) {
  Impl& f = *impl_;
  const std::string apath = detail::absolute_path(path);
  const std::string what = "writing array " + in_quotes(apath);
  f.require_open(what);
  std::vector<hsize_t> hdims;
  std::size_t count = 1;
  for (auto d : dims) {
    if (d < 0) throw IoError(f.path + ": " + what + " failed: negative dim");
    hdims.push_back(static_cast<hsize_t>(d));
    count *= static_cast<std::size_t>(d);
  }
  if (dims.empty()) {
    hdims.push_back(values.size());
    count = values.size();
  }
  if (count != values.size()) {
    throw IoError(f.path + ": " + what + " failed: dims hold " + std::to_string(count) +
                  " values, " + std::to_string(values.size()) + " given");
  }
  if (apath == "/") throw IoError(f.path + ": " + what + " failed: no dataset name");
  f.dirty = true;
  guarded(f.path, what, [&] {
    if (detail::path_exists(*f.file, apath)) throw Failure("it already exists");
    const auto [parent, leaf] = detail::split_path(apath);
    const H5::Group group = detail::require_group(*f.file, parent, false);
    const H5::DataSpace space(static_cast<int>(hdims.size()), hdims.data());
    H5::DataSet ds = group.createDataSet(leaf, NativeType<T>::get(), space);
    if (!values.empty()) ds.write(values.data(), NativeType<T>::get());
    detail::write_attr(ds, "units", units);
    detail::write_attr(ds, "description", description);
  });
}

void RunFile::write_array(const std::string& path, const std::vector<double>& values,
                          const std::vector<std::int64_t>& dims, const std::string& units,
                          const std::string& description) {
  write_typed_array(path, values, dims, units, description);
}

void RunFile::write_int_array(const std::string& path, const std::vector<std::int64_t>& values,
                              const std::vector<std::int64_t>& dims, const std::string& units,
                              const std::string& description) {
  write_typed_array(path, values, dims, units, description);
}

}  // namespace bnl::io
