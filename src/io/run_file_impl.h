#pragma once
/// \file
/// The implementations behind RunFile and SeriesGroup (src/io's own), shared by the files that
/// define their members: run_file.cpp (the file), series_group.cpp (rows and flushes),
/// series_open.cpp (creating and reopening series), fixed_arrays.cpp and checkpoint_write.cpp.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bnlandscape/io/run_file.h"
#include "commit_policy.h"
#include "h5_util.h"

namespace bnl::io {
namespace detail {

/// "'s'": names in error messages.
inline std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

/// Whether `name` can name a dataset or group inside its parent (no '/', not "." or "..").
inline bool valid_link_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace detail

struct SeriesGroup::Impl {
  const std::string* file = nullptr;  // RunFile::Impl::path
  const bool* open = nullptr;         // RunFile::Impl::open
  bool* dirty = nullptr;              // RunFile::Impl::dirty
  std::string name;
  std::vector<ColumnSpec> specs;
  std::vector<std::size_t> widths;
  std::optional<H5::Group> group;
  std::vector<H5::DataSet> datasets;
  std::vector<std::vector<double>> buffers;
  std::int64_t written = 0;
  std::int64_t buffered = 0;

  void require_open(const std::string& what) const {
    if (!*open) throw IoError(*file + ": " + what + " failed: file is closed");
  }

  std::size_t column_index(const std::string& column) const {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].name == column) return i;
    }
    throw IoError(*file + ": group " + detail::in_quotes(name) + " has no column " + detail::in_quotes(column));
  }

  void write_column(std::size_t i) {
    const auto& spec = specs[i];
    const int rank = 1 + static_cast<int>(spec.inner.size());
    std::vector<hsize_t> extent(rank), start(rank, 0), count(rank);
    extent[0] = static_cast<hsize_t>(written + buffered);
    start[0] = static_cast<hsize_t>(written);
    count[0] = static_cast<hsize_t>(buffered);
    for (std::size_t k = 0; k < spec.inner.size(); ++k) {
      extent[k + 1] = count[k + 1] = static_cast<hsize_t>(spec.inner[k]);
    }
    H5::DataSet& ds = datasets[i];
    ds.extend(extent.data());
    H5::DataSpace file_space = ds.getSpace();
    file_space.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    const H5::DataSpace mem_space(rank, count.data());
    const auto& buf = buffers[i];
    if (spec.type == ColumnType::Int64) {
      std::vector<std::int64_t> ints(buf.size());
      for (std::size_t k = 0; k < buf.size(); ++k) ints[k] = std::llround(buf[k]);
      ds.write(ints.data(), H5::PredType::NATIVE_INT64, mem_space, file_space);
    } else {
      ds.write(buf.data(), H5::PredType::NATIVE_DOUBLE, mem_space, file_space);
    }
  }

  void release() {
    for (auto& ds : datasets) ds.close();
    if (group) group->close();
  }
};

struct RunFile::Impl {
  std::string path;
  std::unique_ptr<H5::H5File> file;
  bool open = false;
  // Whether the in-memory file differs from the last image on disk.
  bool dirty = true;
  // The first commit of a created (not overwritten) file must not replace a file that another
  // process made in the meantime.
  bool exclusive = false;
  std::vector<char> image;
  double last_commit_seconds = 0.0;
  CommitStats stats;
  std::chrono::steady_clock::time_point last_commit_end = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<SeriesGroup>> series;

  void require_open(const std::string& what) const {
    if (!open) throw IoError(path + ": " + what + " failed: file is closed");
  }

  template <typename T>
  void set_root_attr(const std::string& name, const T& value) {
    const std::string what = "setting root attribute " + detail::in_quotes(name);
    require_open(what);
    dirty = true;
    detail::guarded(path, what, [&] { detail::write_attr(file->openGroup("/"), name, value); });
  }

  bool commit_due() const { return detail::commit_due(last_commit_seconds, last_commit_end); }

  // Writes the in-memory file to disk as one atomic replacement (see replace_file).
  void commit(const std::string& what, bool durable);
};

}  // namespace bnl::io
