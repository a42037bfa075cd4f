#pragma once
/// \file
/// Checks and emits the schema's documents: docs/hdf5_schema.md is checked against the
/// declaration (record/schema.h) and docs/hdf5_schema.json is generated from it; tests fail
/// when either is stale (tests/record/schema_doc_test.cpp).

#include <string>
#include <vector>

#include "bnlandscape/record/schema.h"

namespace bnl::record::schema {

/// Differences between the schema document `markdown` (docs/hdf5_schema.md) and `groups`, one
/// line each, e.g. "/train/steps/loss: units: doc 's', declared 'nats'"; empty when they agree.
/// Compared: every row of the tables (dataset | dtype | shape | units | meaning, and the root
/// attribute | type | meaning table) by name, dtype, shape (the first [...] of the cell, "x"
/// read as ",", "·" as "*") and units ("—" = none), and the dtype and shape of the dataset lines
/// of code blocks ("step  int64  [n]  ..."); a declared dataset or column a section's table
/// or block lacks, and a table row naming nothing declared, are differences too. A section
/// is the part under "## `<group path>` ..." (the root: "## Root attributes (`/`)").
std::vector<std::string> check_doc(const std::string& markdown, const std::vector<Group>& groups);

/// The declaration as JSON (docs/hdf5_schema.json): {"schema_version": 1, "groups": [{"path",
/// "rows", "columns": [item], "arrays": [item], "attributes": [item]}]}, an item being
/// {"name", "dtype", "shape", "units", "meaning", "only_if", "on"}; two-space indented, one
/// item per line, ending in a newline.
std::string to_json(const std::vector<Group>& groups);

}  // namespace bnl::record::schema
