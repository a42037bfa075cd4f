#include "bnlandscape/io/surface_io.h"

#include <filesystem>
#include <iostream>

#include "h5_util.h"

namespace bnl::io {

using detail::Failure;
using detail::guarded;

struct FileEditor::Impl {
  std::string path;
  // Edits go to the RunFile's in-memory file and reach the disk with its atomic commits
  // (docs/crash_safety.md): a kill while a grid row is written leaves the previous row's commit.
  std::unique_ptr<RunFile> run;

  H5::H5File& open_file(const std::string& what) {
    if (!run || !run->is_open()) throw IoError(detail::error_message(path, what, "the file is closed"));
    return detail::RunFileAccess::file(*run, what);
  }

  // Runs f(object) on the group or dataset at `object`.
  template <class F>
  void with_object(const std::string& object, const std::string& what, F&& f) {
    auto& h5 = open_file(what);
    const std::string apath = detail::absolute_path(object);
    guarded(path, what, [&] {
      if (apath != "/" && !detail::path_exists(h5, apath)) throw Failure("'" + apath + "' does not exist");
      if (apath == "/" || h5.childObjType(apath) == H5O_TYPE_GROUP) {
        const H5::Group g = h5.openGroup(apath);
        f(g);
      } else {
        const H5::DataSet d = h5.openDataSet(apath);
        f(d);
      }
    });
  }
};

FileEditor::FileEditor(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  const std::string what = "opening file for editing";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(detail::error_message(path, what, "no such file"));
  impl_->run = RunFile::open_existing(path);
}

FileEditor::~FileEditor() {
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << "bnlandscape: " << e.what() << "\n";
  }
}

void FileEditor::write_tensor_group(const std::string& group,
                                    const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  const std::string gpath = detail::absolute_path(group);
  const std::string what = "writing tensor group '" + gpath + "'";
  auto& h5 = impl_->open_file(what);
  guarded(impl_->path, what, [&] {
    const H5::Group g = detail::require_group(h5, gpath, true);
    for (const auto& [name, t] : tensors) {
      if (name.empty() || name.find('/') != std::string::npos)
        throw Failure("expected a tensor name without '/', got '" + name + "'");
      if (g.nameExists(name)) throw Failure("'" + gpath + "/" + name + "' already exists");
      detail::write_tensor(g, name, t);
    }
  });
}

void FileEditor::overwrite_array(const std::string& dataset, const std::vector<double>& values) {
  const std::string apath = detail::absolute_path(dataset);
  const std::string what = "rewriting dataset '" + apath + "'";
  auto& h5 = impl_->open_file(what);
  guarded(impl_->path, what, [&] {
    if (!detail::path_exists(h5, apath)) throw Failure("it does not exist");
    H5::DataSet ds = h5.openDataSet(apath);
    const auto n = static_cast<std::size_t>(ds.getSpace().getSimpleExtentNpoints());
    if (n != values.size())
      throw Failure("expected " + std::to_string(n) + " values, got " + std::to_string(values.size()));
    if (n > 0) ds.write(values.data(), H5::PredType::NATIVE_DOUBLE);
  });
}

void FileEditor::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  impl_->with_object(object, "setting attribute '" + name + "' of '" + object + "'",
                     [&](const H5::H5Object& o) { detail::write_attr(o, name, value); });
}

void FileEditor::set_attr(const std::string& object, const std::string& name, std::int64_t value) {
  impl_->with_object(object, "setting attribute '" + name + "' of '" + object + "'",
                     [&](const H5::H5Object& o) { detail::write_attr(o, name, value); });
}

void FileEditor::set_attr(const std::string& object, const std::string& name, double value) {
  impl_->with_object(object, "setting attribute '" + name + "' of '" + object + "'",
                     [&](const H5::H5Object& o) { detail::write_attr(o, name, value); });
}

void FileEditor::set_attr(const std::string& object, const std::string& name, const std::vector<std::string>& values) {
  impl_->with_object(object, "setting attribute '" + name + "' of '" + object + "'",
                     [&](const H5::H5Object& o) { detail::write_attr(o, name, values); });
}

void FileEditor::flush() {
  impl_->open_file("flushing");
  impl_->run->flush();
}

void FileEditor::close() {
  if (!impl_->run) return;
  auto run = std::move(impl_->run);
  run->close();
}

}  // namespace bnl::io
