#pragma once
/// \file
/// The run file: one HDF5 file per training run holding root attributes (provenance, status),
/// growing series of per-step / per-epoch values, fixed arrays and checkpoints. The schema is
/// documented in docs/hdf5_schema.md. This layer is the only code that touches HDF5; its
/// headers expose no HDF5 types.

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/core/error.h"
#include "bnlandscape/io/series_group.h"

namespace bnl::io {

/// A failed file operation (bnl::IoError). The message is one line naming the file, the object
/// (group, dataset or attribute) and the operation, followed by HDF5's innermost error
/// description.
using IoError = bnl::IoError;

/// Value of the root attribute "format" that every run file carries.
inline constexpr const char* kFormatName = "bnlandscape";
/// Value of the root attribute "schema_version" written by this version of the code.
inline constexpr std::int64_t kSchemaVersion = 1;

class RunFile;

namespace detail {
/// src/io's own access to a RunFile's in-memory HDF5 file (defined in src/io/run_file.cpp), for
/// edits RunFile does not offer (io/surface_io.h) that must still go through its commits.
struct RunFileAccess;
}  // namespace detail

/// A run file open for writing. Not thread-safe: use it from one thread.
///
/// Crash safety (docs/crash_safety.md): the file is held in memory (HDF5's core driver) and the
/// file on disk changes only by commits, each of which writes a complete image to "<path>.tmp"
/// and renames it over the path. A process killed at any instant (kill -9 included) leaves
/// either the previous commit or the next one on disk: a file that opens with plain h5py,
/// holding exactly what the last completed commit held. flush() and close() commit;
/// write_checkpoint() and flush_if_due() commit when that is cheap relative to the time since
/// the last commit.
class RunFile : public IntegralAttrOverload<RunFile> {
 public:
  /// Implementation, defined in src/io/run_file_impl.h.
  struct Impl;

  /// Creates `path` (parent dirs must exist) and writes the root attributes format and
  /// schema_version; the file exists on disk when this returns. An existing file is refused
  /// with IoError unless `overwrite`, which replaces it.
  static std::unique_ptr<RunFile> create(const std::string& path, bool overwrite);

  /// Not copyable: one writer per file.
  RunFile(const RunFile&) = delete;
  /// Not copyable.
  RunFile& operator=(const RunFile&) = delete;
  /// Closes the file; an error is reported on stderr, never thrown.
  ~RunFile();

  /// Opens an existing run file for appending (resume): reads it into memory, leaving the file
  /// on disk untouched until the first commit, and removes a "<path>.tmp" left by a killed
  /// commit. A file that is not a bnlandscape run file (root attribute format) is an IoError.
  static std::unique_ptr<RunFile> open_existing(const std::string& path);

  /// Removes the object (group or dataset) at the absolute `path` and everything under it,
  /// e.g. an unreadable checkpoint passed over by a resume. A missing object is an IoError.
  void remove(const std::string& path);

  /// Whether an object (group or dataset) exists at the absolute `path`.
  bool exists(const std::string& path) const;

  /// Reopens an existing series group for appending rows of `columns` (the specs it was
  /// created with), keeping only its first rows whose int64 column `step_column` is <
  /// `keep_below` (rows are in step order); later rows are cut off (the datasets shrink).
  /// IoError if the group or a column is missing or has another shape.
  SeriesGroup& reopen_series(const std::string& group, const std::vector<ColumnSpec>& columns,
                             const std::string& step_column, std::int64_t keep_below);

  /// Values of an existing float64 (or int64, converted) dataset, flattened.
  std::vector<double> read_array(const std::string& path) const;

  /// Creates group `group` (e.g. "/train/steps"; intermediate groups created) with chunked,
  /// extendible, shuffle+deflate(4) datasets per column, each carrying "units" and
  /// "description" attributes. Float64 columns read as NaN in rows that were never written.
  /// The returned reference stays valid for the RunFile's life. An existing group, an empty
  /// or duplicate column name, or a non-positive inner dim is an IoError.
  SeriesGroup& add_series(const std::string& group, const std::vector<ColumnSpec>& columns);

  /// Sets (or replaces) a string root attribute (variable-length UTF-8; may span lines).
  void set_attr(const std::string& name, const std::string& value);
  /// Sets (or replaces) an int64 root attribute.
  void set_attr(const std::string& name, std::int64_t value);
  /// Sets (or replaces) a float64 root attribute.
  void set_attr(const std::string& name, double value);
  /// Sets (or replaces) a 1-D string-array root attribute.
  void set_attr(const std::string& name, const std::vector<std::string>& values);
  /// Integer overload so that `set_attr("seed", 42)` is not ambiguous; stored as int64.
  using IntegralAttrOverload<RunFile>::set_attr;

  /// Writes a fixed (non-extendible) float64 dataset at `path`, e.g. "/probes/step_sizes"
  /// (intermediate groups created), of shape `dims` (empty = 1-D of values.size()), with
  /// "units" and "description" attributes. The product of `dims` must equal values.size();
  /// an existing dataset is an IoError.
  void write_array(const std::string& path, const std::vector<double>& values,
                   const std::vector<std::int64_t>& dims, const std::string& units,
                   const std::string& description);
  /// As write_array, for an int64 dataset (e.g. example indices).
  void write_int_array(const std::string& path, const std::vector<std::int64_t>& values,
                       const std::vector<std::int64_t>& dims, const std::string& units,
                       const std::string& description);

  /// Writes /checkpoints/step_NNNNNNN (7-digit zero-padded step) holding every tensor as a
  /// dataset named by its dotted PyTorch name (net.0.weight), in its own dtype (float32,
  /// float64, int8/16/32/64, uint8, bool) and shape; `state` tensors go to
  /// /checkpoints/step_NNNNNNN/_state/<name> (flat). The group carries the attribute "step"
  /// and keeps creation order, so read_tensor_group returns tensors in the order given here.
  /// Then commits the file when a commit is due (see flush_if_due; always for a file without
  /// many checkpoints), else with the next due commit or close(). Returns the group path. An
  /// existing checkpoint, a name that is empty or contains '/', or an unsupported dtype is an
  /// IoError; so is a commit that fails (a full disk), which leaves the previous commit on disk.
  std::string write_checkpoint(std::int64_t step,
                               const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                               const std::vector<std::pair<std::string, torch::Tensor>>& state);

  /// Writes every SeriesGroup's buffered rows and commits the file: when this returns, the file
  /// on disk holds everything written so far and opens with plain HDF5 readers whenever the
  /// process is killed afterwards. Nothing is written when nothing changed. A failure is an
  /// IoError and leaves the previous commit on disk.
  void flush();

  /// flush() when the last commit took under 5 ms (a file without many checkpoints) or the time
  /// since it is at least 50 times what it took (so whole-image commits of a file grown large
  /// by checkpoints cost at most ~2% of the run), else nothing: for periodic flush points.
  void flush_if_due();

  /// What committing has cost this RunFile so far.
  struct CommitStats {
    std::int64_t commits = 0;  ///< images written to disk
    std::int64_t bytes = 0;    ///< their bytes, in all
    double seconds = 0.0;      ///< wall time spent in commits (flush, image copy, write, rename)
  };
  /// Commits made by this RunFile (in this process) and their cost.
  CommitStats commit_stats() const;

  /// Flush + close; the final commit is fsynced. Idempotent. Handles are released even when the
  /// flush fails; the first error is then thrown.
  void close();

  /// Whether the file is still open (close() not yet called).
  bool is_open() const;

  /// The path given to create().
  const std::string& path() const;

 private:
  template <class T>
  void write_typed_array(const std::string& path, const std::vector<T>& values,
                         const std::vector<std::int64_t>& dims, const std::string& units,
                         const std::string& description);
  explicit RunFile(std::unique_ptr<Impl> impl);
  friend struct detail::RunFileAccess;
  std::unique_ptr<Impl> impl_;
};

/// True when a run file of this process could not be closed (e.g. the disk is full). HDF5
/// 1.10 then crashes in its own clean-up at exit, so the process should end with std::_Exit
/// after flushing its output (run_app does).
bool must_skip_hdf5_cleanup();

}  // namespace bnl::io
