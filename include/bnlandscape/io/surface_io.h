#pragma once
/// \file
/// Edits of an existing HDF5 file that RunFile does not offer, for `bnlandscape surface`: a
/// group of named tensors in their own dtype (the surface directions), in-place rewrites of a
/// fixed float64 dataset (a surface grid filled in as its cells are computed, so an
/// interrupted run keeps them) and attributes of any group or dataset. No HDF5 types in the
/// interface; errors are IoError naming the file and the object, like RunFile's.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "bnlandscape/io/run_file.h"

namespace bnl::io {

/// An existing run file opened for editing through RunFile (RunFile::open_existing), so that
/// its edits reach the disk only by atomic commits. Nothing else in the process may have it
/// open for writing at the same time (close the RunFile that created it first). Not
/// thread-safe.
class FileEditor {
 public:
  struct Impl;
  /// Opens `path` read-write; a missing file or one that is not a bnlandscape run file (root
  /// attribute "format") is an IoError.
  explicit FileEditor(const std::string& path);
  /// Closes the file; an error is reported on stderr, never thrown.
  ~FileEditor();
  FileEditor(const FileEditor&) = delete;
  FileEditor& operator=(const FileEditor&) = delete;

  /// Writes each tensor as a contiguous dataset named by its (dotted) name in `group`
  /// (absolute; intermediate groups created; the new group keeps creation order, so
  /// read_tensor_group returns the tensors in this order), in the tensor's own dtype (those of
  /// RunFile::write_checkpoint) and shape. An existing dataset, a name that is empty or
  /// contains '/', or an unsupported dtype is an IoError.
  void write_tensor_group(const std::string& group, const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

  /// Replaces every value of the existing numeric dataset `dataset` with `values` (C order,
  /// converted to the dataset's type). A missing dataset or another number of values is an
  /// IoError.
  void overwrite_array(const std::string& dataset, const std::vector<double>& values);

  /// Sets (or replaces) a string attribute of the existing group or dataset `object` ("/" for
  /// the root).
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  /// Sets (or replaces) an int64 attribute of `object`.
  void set_attr(const std::string& object, const std::string& name, std::int64_t value);
  /// Sets (or replaces) a float64 attribute of `object`.
  void set_attr(const std::string& object, const std::string& name, double value);
  /// Sets (or replaces) a 1-D string-array attribute of `object`.
  void set_attr(const std::string& object, const std::string& name, const std::vector<std::string>& values);

  /// Commits the edits (RunFile::flush): the file on disk holds them and opens with plain HDF5
  /// readers whenever the process is killed afterwards.
  void flush();

  /// Flushes and closes (idempotent); the first error is thrown.
  void close();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnl::io
