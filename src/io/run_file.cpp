#include "bnlandscape/io/run_file.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include "bnlandscape/io/checkpoint.h"
#include "h5_util.h"

namespace bnl::io {
namespace {

using detail::Failure;
using detail::guarded;

// ~64 KiB chunks keep the last, partly written chunk cheap to recompress at every flush and
// stay far below the 1 MiB default chunk cache; scalar series get whole 4096-row chunks.
constexpr std::int64_t kScalarChunkRows = 4096;
constexpr std::int64_t kChunkBytes = 64 * 1024;
constexpr int kDeflateLevel = 4;
// Largest double magnitude that still converts to int64 without overflow.
constexpr double kInt64Limit = 9.2e18;

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

// Run files whose close failed in this process (see RunFile::close).
std::atomic<int>& unclosable_files() {
  static std::atomic<int> n{0};
  return n;
}

bool valid_link_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

struct SeriesGroup::Impl {
  const std::string* file = nullptr;  // RunFile::Impl::path
  const bool* open = nullptr;         // RunFile::Impl::open
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
    throw IoError(*file + ": group " + in_quotes(name) + " has no column " + in_quotes(column));
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
  std::vector<std::unique_ptr<SeriesGroup>> series;

  void require_open(const std::string& what) const {
    if (!open) throw IoError(path + ": " + what + " failed: file is closed");
  }

  template <typename T>
  void set_root_attr(const std::string& name, const T& value) {
    const std::string what = "setting root attribute " + in_quotes(name);
    require_open(what);
    guarded(path, what, [&] { detail::write_attr(file->openGroup("/"), name, value); });
  }
};

// ---- SeriesGroup ------------------------------------------------------------------------------

SeriesGroup::SeriesGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SeriesGroup::~SeriesGroup() = default;

void SeriesGroup::append(const std::vector<std::vector<double>>& values) {
  Impl& s = *impl_;
  if (!*s.open) s.require_open("appending a row to " + in_quotes(s.name));
  if (values.size() != s.specs.size()) {
    throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: " +
                  std::to_string(values.size()) + " columns given, " +
                  std::to_string(s.specs.size()) + " expected");
  }
  // Everything is checked before anything is buffered, so a bad row leaves no partial row.
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].size() != s.widths[i]) {
      throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: column " +
                    in_quotes(s.specs[i].name) + " got " + std::to_string(values[i].size()) +
                    " values, " + std::to_string(s.widths[i]) + " expected");
    }
    if (s.specs[i].type != ColumnType::Int64) continue;
    for (double v : values[i]) {
      if (!std::isfinite(v) || std::fabs(v) >= kInt64Limit) {
        throw IoError(*s.file + ": appending a row to " + in_quotes(s.name) + " failed: int64 column " +
                      in_quotes(s.specs[i].name) + " got " + std::to_string(v));
      }
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    s.buffers[i].insert(s.buffers[i].end(), values[i].begin(), values[i].end());
  }
  ++s.buffered;
}

std::int64_t SeriesGroup::rows() const { return impl_->written + impl_->buffered; }

std::int64_t SeriesGroup::written_rows() const { return impl_->written; }

void SeriesGroup::flush() {
  Impl& s = *impl_;
  if (s.buffered == 0) return;
  s.require_open("writing " + std::to_string(s.buffered) + " buffered rows of " + in_quotes(s.name));
  for (std::size_t i = 0; i < s.specs.size(); ++i) {
    guarded(*s.file,
            "appending " + std::to_string(s.buffered) + " rows to dataset " +
                in_quotes(s.name + "/" + s.specs[i].name),
            [&] { s.write_column(i); });
  }
  // Only now: a failed column leaves every row buffered, and rewriting rows at the same
  // offsets on a retry is harmless.
  s.written += s.buffered;
  s.buffered = 0;
  for (auto& b : s.buffers) b.clear();
}

const std::string& SeriesGroup::name() const { return impl_->name; }

const std::vector<ColumnSpec>& SeriesGroup::columns() const { return impl_->specs; }

namespace {

template <typename T>
void set_group_attr(SeriesGroup::Impl& s, const std::string& name, const T& value) {
  const std::string what = "setting attribute " + in_quotes(name) + " of " + in_quotes(s.name);
  s.require_open(what);
  guarded(*s.file, what, [&] { detail::write_attr(*s.group, name, value); });
}

template <typename T>
void set_dataset_attr(SeriesGroup::Impl& s, const std::string& column, const std::string& name,
                      const T& value) {
  const std::size_t i = s.column_index(column);
  const std::string what =
      "setting attribute " + in_quotes(name) + " of " + in_quotes(s.name + "/" + column);
  s.require_open(what);
  guarded(*s.file, what, [&] { detail::write_attr(s.datasets[i], name, value); });
}

}  // namespace

void SeriesGroup::set_attr(const std::string& name, const std::string& value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, std::int64_t value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, double value) {
  set_group_attr(*impl_, name, value);
}
void SeriesGroup::set_attr(const std::string& name, const std::vector<std::string>& values) {
  set_group_attr(*impl_, name, values);
}

void SeriesGroup::set_column_attr(const std::string& column, const std::string& name,
                                  const std::string& value) {
  set_dataset_attr(*impl_, column, name, value);
}
void SeriesGroup::set_column_attr(const std::string& column, const std::string& name,
                                  const std::vector<std::string>& values) {
  set_dataset_attr(*impl_, column, name, values);
}

// ---- RunFile ----------------------------------------------------------------------------------

RunFile::RunFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RunFile::~RunFile() {
  try {
    close();
  } catch (const std::exception& e) {
    // A destructor must not throw, but losing buffered rows silently would be worse.
    std::cerr << "bnlandscape: warning: " << e.what() << '\n';
  }
}

std::unique_ptr<RunFile> RunFile::create(const std::string& path, bool overwrite) {
  const std::string what = "creating run file";
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(path, ec)) {
    throw IoError(path + ": " + what + " failed: file exists (overwrite to replace it)");
  }
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw IoError(path + ": " + what + " failed: directory " + in_quotes(parent.string()) +
                  " does not exist");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  // EXCL as well as the check above: another process may create the file in between.
  guarded(path, what, [&] {
    impl->file = std::make_unique<H5::H5File>(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL);
  });
  impl->open = true;
  std::unique_ptr<RunFile> run(new RunFile(std::move(impl)));
  run->set_attr("format", std::string(kFormatName));
  run->set_attr("schema_version", kSchemaVersion);
  return run;
}

std::unique_ptr<RunFile> RunFile::open_existing(const std::string& path) {
  const std::string what = "opening run file for appending";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(path + ": " + what + " failed: no such file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  guarded(path, what, [&] {
    impl->file = std::make_unique<H5::H5File>(path, H5F_ACC_RDWR);
    const H5::Group root = impl->file->openGroup("/");
    if (!root.attrExists("format")) throw Failure("not a bnlandscape run file (no root attribute 'format')");
  });
  impl->open = true;
  return std::unique_ptr<RunFile>(new RunFile(std::move(impl)));
}

bool RunFile::exists(const std::string& path) const {
  const Impl& f = *impl_;
  f.require_open("looking up " + in_quotes(path));
  return guarded(f.path, "looking up " + in_quotes(path),
                 [&] { return detail::path_exists(*f.file, detail::absolute_path(path)); });
}

std::vector<double> RunFile::read_array(const std::string& path) const {
  const Impl& f = *impl_;
  const std::string apath = detail::absolute_path(path);
  const std::string what = "reading dataset " + in_quotes(apath);
  f.require_open(what);
  return guarded(f.path, what, [&] {
    if (!detail::path_exists(*f.file, apath)) throw Failure("it does not exist");
    H5::DataSet ds = f.file->openDataSet(apath);
    const auto n = static_cast<std::size_t>(ds.getSpace().getSimpleExtentNpoints());
    std::vector<double> out(n);
    if (n > 0) ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
  });
}

SeriesGroup& RunFile::reopen_series(const std::string& group, const std::vector<ColumnSpec>& columns,
                                    const std::string& step_column, std::int64_t keep_below) {
  Impl& f = *impl_;
  const std::string gpath = detail::absolute_path(group);
  const std::string what = "reopening series group " + in_quotes(gpath);
  f.require_open(what);
  auto s = std::make_unique<SeriesGroup::Impl>();
  s->file = &f.path;
  s->open = &f.open;
  s->name = gpath;
  s->specs = columns;
  guarded(f.path, what, [&] {
    if (!detail::path_exists(*f.file, gpath)) throw Failure("it does not exist");
    s->group.emplace(f.file->openGroup(gpath));
    if (!s->group->nameExists(step_column)) throw Failure("it has no column " + in_quotes(step_column));
    H5::DataSet step_ds = s->group->openDataSet(step_column);
    const auto rows = static_cast<std::size_t>(step_ds.getSpace().getSimpleExtentNpoints());
    std::vector<std::int64_t> steps(rows);
    if (rows > 0) step_ds.read(steps.data(), H5::PredType::NATIVE_INT64);
    std::size_t keep = 0;
    while (keep < rows && steps[keep] < keep_below) ++keep;
    for (const auto& c : columns) {
      if (!s->group->nameExists(c.name)) throw Failure("it has no column " + in_quotes(c.name));
      H5::DataSet ds = s->group->openDataSet(c.name);
      H5::DataSpace space = ds.getSpace();
      const int rank = space.getSimpleExtentNdims();
      std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 1)));
      space.getSimpleExtentDims(dims.data());
      std::size_t width = 1;
      bool same = rank == 1 + static_cast<int>(c.inner.size());
      for (std::size_t k = 0; same && k < c.inner.size(); ++k) {
        same = dims[k + 1] == static_cast<hsize_t>(c.inner[k]);
        width *= static_cast<std::size_t>(c.inner[k]);
      }
      if (!same) throw Failure("column " + in_quotes(c.name) + " has another shape than this run writes");
      if (dims[0] < keep) throw Failure("column " + in_quotes(c.name) + " is shorter than " + in_quotes(step_column));
      dims[0] = keep;
      ds.extend(dims.data());
      s->widths.push_back(width);
      s->datasets.push_back(ds);
    }
    s->written = static_cast<std::int64_t>(keep);
  });
  s->buffers.resize(s->specs.size());
  f.series.push_back(std::unique_ptr<SeriesGroup>(new SeriesGroup(std::move(s))));
  return *f.series.back();
}

SeriesGroup& RunFile::add_series(const std::string& group,
                                 const std::vector<ColumnSpec>& columns) {
  Impl& f = *impl_;
  const std::string gpath = detail::absolute_path(group);
  const std::string what = "creating series group " + in_quotes(gpath);
  f.require_open(what);
  auto fail = [&](const std::string& why) { throw IoError(f.path + ": " + what + " failed: " + why); };
  if (gpath == "/") fail("the root cannot be a series group");
  if (columns.empty()) fail("no columns");
  std::set<std::string> names;
  std::vector<std::size_t> widths;
  for (const auto& c : columns) {
    if (!valid_link_name(c.name)) fail("invalid column name " + in_quotes(c.name));
    if (!names.insert(c.name).second) fail("duplicate column " + in_quotes(c.name));
    std::size_t width = 1;
    for (auto d : c.inner) {
      if (d <= 0) fail("column " + in_quotes(c.name) + " has a non-positive inner dim");
      width *= static_cast<std::size_t>(d);
    }
    widths.push_back(width);
  }

  auto s = std::make_unique<SeriesGroup::Impl>();
  s->file = &f.path;
  s->open = &f.open;
  s->name = gpath;
  s->specs = columns;
  s->widths = widths;
  s->buffers.resize(columns.size());
  guarded(f.path, what, [&] {
    if (detail::path_exists(*f.file, gpath)) throw Failure("it already exists");
    s->group.emplace(detail::require_group(*f.file, gpath, false));
  });

  for (std::size_t i = 0; i < columns.size(); ++i) {
    const ColumnSpec& c = columns[i];
    guarded(f.path, "creating dataset " + in_quotes(gpath + "/" + c.name), [&] {
      const int rank = 1 + static_cast<int>(c.inner.size());
      std::vector<hsize_t> dims(rank, 0), maxdims(rank), chunk(rank);
      maxdims[0] = H5S_UNLIMITED;
      for (std::size_t k = 0; k < c.inner.size(); ++k) {
        dims[k + 1] = maxdims[k + 1] = chunk[k + 1] = static_cast<hsize_t>(c.inner[k]);
      }
      const auto row_bytes = static_cast<std::int64_t>(widths[i] * 8);
      chunk[0] = static_cast<hsize_t>(
          c.inner.empty() ? kScalarChunkRows : std::max<std::int64_t>(1, kChunkBytes / row_bytes));

      H5::DSetCreatPropList plist;
      plist.setChunk(rank, chunk.data());
      plist.setShuffle();
      plist.setDeflate(kDeflateLevel);
      const H5::PredType& type =
          c.type == ColumnType::Int64 ? H5::PredType::NATIVE_INT64 : H5::PredType::NATIVE_DOUBLE;
      if (c.type == ColumnType::Float64) {
        // Rows that never got written (a failed flush) read as NaN, not as a plausible 0.
        const double nan = std::nan("");
        plist.setFillValue(H5::PredType::NATIVE_DOUBLE, &nan);
      }
      H5::DataSet ds =
          s->group->createDataSet(c.name, type, H5::DataSpace(rank, dims.data(), maxdims.data()),
                                  plist);
      detail::write_attr(ds, "units", c.units);
      detail::write_attr(ds, "description", c.description);
      s->datasets.push_back(ds);
    });
  }

  f.series.push_back(std::unique_ptr<SeriesGroup>(new SeriesGroup(std::move(s))));
  return *f.series.back();
}

void RunFile::set_attr(const std::string& name, const std::string& value) {
  impl_->set_root_attr(name, value);
}
void RunFile::set_attr(const std::string& name, std::int64_t value) {
  impl_->set_root_attr(name, value);
}
void RunFile::set_attr(const std::string& name, double value) {
  impl_->set_root_attr(name, value);
}
void RunFile::set_attr(const std::string& name, const std::vector<std::string>& values) {
  impl_->set_root_attr(name, values);
}

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

std::string RunFile::write_checkpoint(
    std::int64_t step, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  Impl& f = *impl_;
  const std::string gpath = checkpoint_group(step);
  const std::string what = "writing checkpoint " + in_quotes(gpath);
  f.require_open(what);
  auto fail = [&](const std::string& why) { throw IoError(f.path + ": " + what + " failed: " + why); };
  if (step < 0) fail("negative step");
  // Checked up front so that a bad tensor leaves no half-written checkpoint behind.
  auto check_tensor = [&](const std::string& name, const torch::Tensor& t) {
    if (!valid_link_name(name)) fail("invalid tensor name " + in_quotes(name));
    if (!t.defined()) fail("tensor " + in_quotes(name) + " is undefined");
    if (!detail::supported_dtype(t.scalar_type())) {
      fail("tensor " + in_quotes(name) + " has unsupported dtype " +
           std::string(c10::toString(t.scalar_type())) +
           " (float32, float64, int8/16/32/64, uint8 and bool are supported)");
    }
  };
  for (const auto& [name, t] : tensors) {
    if (name == "_state") fail("tensor name '_state' is reserved for the optimizer state");
    check_tensor(name, t);
  }
  for (const auto& [name, t] : state) check_tensor(name, t);
  guarded(f.path, what, [&] {
    if (detail::path_exists(*f.file, gpath)) throw Failure("it already exists");
    const H5::Group group = detail::require_group(*f.file, gpath, true);
    detail::write_attr(group, "step", step);
    for (const auto& [name, t] : tensors) detail::write_tensor(group, name, t);
    const H5::Group state_group = detail::require_group(*f.file, gpath + "/_state", true);
    for (const auto& [name, t] : state) detail::write_tensor(state_group, name, t);
  });
  flush();
  return gpath;
}

void RunFile::flush() {
  Impl& f = *impl_;
  f.require_open("flushing");
  for (auto& s : f.series) s->flush();
  guarded(f.path, "flushing", [&] { f.file->flush(H5F_SCOPE_GLOBAL); });
}

void RunFile::close() {
  Impl& f = *impl_;
  if (!f.open) return;
  std::exception_ptr first_error;
  try {
    flush();
  } catch (...) {
    first_error = std::current_exception();
  }
  // Handles go even after a failed flush: a file left open would keep its lock for the rest
  // of the process, and the error has been recorded.
  try {
    guarded(f.path, "closing", [&] {
      for (auto& s : f.series) s->impl_->release();
      f.file->close();
    });
  } catch (...) {
    if (!first_error) first_error = std::current_exception();
    // A file whose close failed (disk full) stays half-open inside HDF5 1.10: closing its
    // handles again only prints errors, and the library's own clean-up at exit crashes on it.
    // Keep the handles alive for good and tell the process to end without that clean-up.
    for (auto& s : f.series) {
      new std::vector<H5::DataSet>(std::move(s->impl_->datasets));
      if (s->impl_->group) new H5::Group(std::move(*s->impl_->group));
      s->impl_->datasets.clear();
      s->impl_->group.reset();
    }
    f.file.release();
    unclosable_files().fetch_add(1);
  }
  f.open = false;
  if (first_error) std::rethrow_exception(first_error);
}

bool RunFile::is_open() const { return impl_->open; }

bool must_skip_hdf5_cleanup() { return unclosable_files().load() > 0; }

const std::string& RunFile::path() const { return impl_->path; }

}  // namespace bnl::io
