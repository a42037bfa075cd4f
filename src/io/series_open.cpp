#include <algorithm>
#include <cmath>
#include <iostream>
#include <set>

#include "chunk_recovery.h"
#include "run_file_impl.h"

namespace bnl::io {
namespace {

using detail::Failure;
using detail::guarded;
using detail::in_quotes;
using detail::readable_rows;
using detail::valid_link_name;

// ~64 KiB chunks keep the last, partly written chunk cheap to recompress at every flush and
// stay far below the 1 MiB default chunk cache; scalar series get whole 4096-row chunks.
constexpr std::int64_t kScalarChunkRows = 4096;
constexpr std::int64_t kChunkBytes = 64 * 1024;
constexpr int kDeflateLevel = 4;

// The number of leading rows among the first `readable` of a step column whose step is below
// `keep_below` (rows are in step order).
std::size_t rows_before(const H5::DataSet& step_ds, std::size_t readable, std::int64_t keep_below) {
  std::vector<std::int64_t> steps(readable);
  if (readable > 0) {
    H5::DataSpace space = step_ds.getSpace();
    const hsize_t count = readable, offset = 0;
    space.selectHyperslab(H5S_SELECT_SET, &count, &offset);
    const H5::DataSpace mem(1, &count);
    step_ds.read(steps.data(), H5::PredType::NATIVE_INT64, mem, space);
  }
  std::size_t keep = 0;
  while (keep < readable && steps[keep] < keep_below) ++keep;
  return keep;
}

// Values per row of an existing column; Failure when its shape is not the one `c` writes or
// it holds fewer than `keep` rows.
std::size_t checked_width(const H5::DataSet& ds, const ColumnSpec& c, std::size_t keep,
                          const std::string& step_column) {
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
  return width;
}

// Shrinks a series dataset to its first `keep` rows (whole chunks beyond are pruned).
void cut_to(H5::DataSet& ds, std::size_t keep) {
  std::vector<hsize_t> dims(static_cast<std::size_t>(ds.getSpace().getSimpleExtentNdims()));
  ds.getSpace().getSimpleExtentDims(dims.data());
  dims[0] = keep;
  ds.extend(dims.data());
}

/// A new series group's implementation, tied to run file `f` (its path and its open and dirty
/// flags), named `gpath`, with the specs `columns` and an empty row buffer for each; marks `f`
/// dirty. The caller fills in the widths and datasets.
std::unique_ptr<SeriesGroup::Impl> new_series_impl(RunFile::Impl& f, const std::string& gpath,
                                                   const std::vector<ColumnSpec>& columns) {
  auto s = std::make_unique<SeriesGroup::Impl>();
  s->file = &f.path;
  s->open = &f.open;
  s->dirty = &f.dirty;
  s->name = gpath;
  s->specs = columns;
  s->buffers.resize(columns.size());
  f.dirty = true;
  return s;
}

}  // namespace

SeriesGroup& RunFile::reopen_series(const std::string& group, const std::vector<ColumnSpec>& columns,
                                    const std::string& step_column, std::int64_t keep_below) {
  Impl& f = *impl_;
  const std::string gpath = detail::absolute_path(group);
  const std::string what = "reopening series group " + in_quotes(gpath);
  f.require_open(what);
  auto s = new_series_impl(f, gpath, columns);
  guarded(f.path, what, [&] {
    if (!detail::path_exists(*f.file, gpath)) throw Failure("it does not exist");
    s->group.emplace(f.file->openGroup(gpath));
    if (!s->group->nameExists(step_column)) throw Failure("it has no column " + in_quotes(step_column));
    H5::DataSet step_ds = s->group->openDataSet(step_column);
    const auto rows = static_cast<std::size_t>(step_ds.getSpace().getSimpleExtentNpoints());
    // Rows past a damaged chunk of any column are dropped (and the chunk with them), so that
    // appending never has to read it; shrinking the extent prunes whole chunks beyond it.
    std::size_t readable = readable_rows(step_ds, rows);
    std::vector<H5::DataSet> found;
    for (const auto& c : columns) {
      if (!s->group->nameExists(c.name)) throw Failure("it has no column " + in_quotes(c.name));
      found.push_back(s->group->openDataSet(c.name));
    }
    std::size_t keep = rows_before(step_ds, readable, keep_below);
    // All readable steps wanted but some unreadable: the damage may hold wanted rows too.
    bool lost = keep == readable && readable < rows;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      s->widths.push_back(checked_width(found[i], columns[i], keep, step_column));
      const std::size_t ok = readable_rows(found[i], static_cast<hsize_t>(keep));
      if (ok < keep) {
        keep = ok;
        lost = true;
      }
    }
    if (lost) {
      std::cerr << "bnlandscape: warning: " << f.path << ": " << gpath << " does not read back past row " << keep
                << " (a damaged chunk); the rows from there to the checkpoint are lost\n";
    }
    for (std::size_t i = 0; i < columns.size(); ++i) {
      cut_to(found[i], keep);
      s->datasets.push_back(found[i]);
    }
    s->written = static_cast<std::int64_t>(keep);
  });
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

  auto s = new_series_impl(f, gpath, columns);
  s->widths = widths;
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

}  // namespace bnl::io
