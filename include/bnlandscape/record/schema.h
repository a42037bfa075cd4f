#pragma once
/// \file
/// The run-file schema, declared once: every group of a run file (root attributes, /train/*,
/// /probes, /density, /activations, /ics, /surface, /checkpoints) with its datasets and
/// attributes (name, dtype, symbolic shape, units, one-line meaning) and how a row is filled.
/// Writers build their io::ColumnSpec lists from it (series_columns), readers use the names in
/// record/schema_names.h, docs/hdf5_schema.md is checked against it (record/schema_doc.h) and
/// docs/hdf5_schema.json is generated from it (record/schema_json.h).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bnlandscape/io/run_file.h"

namespace bnl::record::schema {

/// Element type of a declared dataset or attribute.
enum class Dtype {
  Int64,        ///< int64 (scalar attribute or dataset elements)
  Float64,      ///< float64
  String,       ///< variable-length UTF-8 string attribute
  StringArray,  ///< 1-D array of strings (attribute)
  Tensor,       ///< a checkpoint tensor: the parameter's own dtype (float32, int64, ...)
};

/// One dataset or attribute.
struct Item {
  std::string name;     ///< dataset or attribute name inside its group
  Dtype dtype = Dtype::Float64;
  /// Symbolic shape in C order, e.g. "[n]", "[n, S]", "[n, L, K]" (dimension 0 of a series is
  /// its row count n); "" for a scalar attribute.
  std::string shape;
  std::string units;    ///< the dataset's "units" attribute ("" where none is written)
  std::string meaning;  ///< one line; for series columns exactly their "description" attribute
  /// A symbol (a key of Sizes) that must be > 0 for the column to be written; "" = always.
  std::string only_if;
  /// For an attribute of a column: the column it sits on; "" = an attribute of the group.
  std::string on;
};

/// One group of the run file.
struct Group {
  /// Absolute path; placeholders in angle brackets, e.g. "/activations/<layer>/<site>".
  std::string path;
  std::string rows;                ///< how a row is filled (when, on what); one line
  std::vector<Item> columns;       ///< series columns, in the order they are written and appended
  std::vector<Item> arrays;        ///< fixed (non-extendible) datasets or tensors of the group
  std::vector<Item> attributes;    ///< attributes of the group (and of its columns, Item::on)
};

/// Every group of a run file (and of a surface file), root first.
const std::vector<Group>& run_file();

/// The declared group at `path` (as in Group::path); an unknown path is an InternalError.
const Group& group(const std::string& path);

/// The declared dataset (column or fixed array) `name` of group `group_path`, e.g.
/// item("/surface", "alpha") for the units and description write_array takes; an undeclared
/// one is an InternalError.
const Item& item(const std::string& group_path, const std::string& name);

/// Values of the symbolic sizes in shapes (e.g. {"L", 3}, {"S", 8}) and of only_if flags.
using Sizes = std::map<std::string, std::int64_t>;

/// The ColumnSpecs of series group `g` in declaration order: columns whose only_if symbol is
/// not > 0 are left out; inner dims are the shape's symbols after n, resolved from `sizes`
/// (a product such as "K*M" multiplies). An unresolved symbol is an InternalError.
std::vector<io::ColumnSpec> series_columns(const Group& g, const Sizes& sizes = {});

/// "int64", "float64", "str", "str[]", "tensor": the names the doc and JSON use.
const char* dtype_name(Dtype d);

}  // namespace bnl::record::schema
