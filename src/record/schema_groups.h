#pragma once
/// \file
/// The parts of the schema declaration (src/record/schema_*.cpp), joined by schema::run_file(),
/// and the helpers their tables share.

#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record::schema::detail {

/// Root attributes, /train/steps, /train/epochs, /train/evals and /checkpoints.
std::vector<Group> train_groups();
/// /probes and /density.
std::vector<Group> probe_groups();
/// /activations, /ics and /surface.
std::vector<Group> analysis_groups();

/// Short names of the dtypes, for the declaration tables.
inline constexpr Dtype I = Dtype::Int64;
inline constexpr Dtype F = Dtype::Float64;
inline constexpr Dtype S = Dtype::String;
inline constexpr Dtype SA = Dtype::StringArray;

/// The group at `path` whose rows are filled as `rows` says; its items are for the caller to add.
inline Group group_at(std::string path, std::string rows) {
  Group g;
  g.path = std::move(path);
  g.rows = std::move(rows);
  return g;
}

/// A dataset (series column or fixed array) `name` of `shape` and `units`; written only where
/// the size symbol `only_if` is > 0 ("" = always).
inline Item dataset(std::string name, Dtype dtype, std::string shape, std::string units, std::string meaning,
                    std::string only_if = "") {
  return {std::move(name), dtype, std::move(shape), std::move(units), std::move(meaning), std::move(only_if), ""};
}

/// A scalar attribute of the group, or of its column `on`; written only where the size symbol
/// `only_if` is > 0 ("" = always).
inline Item attribute(std::string name, Dtype dtype, std::string meaning, std::string on = "",
                      std::string only_if = "") {
  return {std::move(name), dtype, "", "", std::move(meaning), std::move(only_if), std::move(on)};
}

/// A string-array attribute of `shape` (e.g. "[L]"), of the group or of its column `on`;
/// written only where the size symbol `only_if` is > 0 ("" = always).
inline Item names_attribute(std::string name, std::string shape, std::string meaning, std::string on = "",
                            std::string only_if = "") {
  return {std::move(name), SA, std::move(shape), "", std::move(meaning), std::move(only_if), std::move(on)};
}

/// The int64 step column (unit 1) that leads every series group, over its rows `rows` ("[n]").
inline Item step_column(const std::string& rows, std::string meaning) {
  return dataset(names::kStep, I, rows, "1", std::move(meaning));
}

/// The float64 "seconds" column (unit s) of a probe series, over its rows `rows`.
inline Item seconds_column(const std::string& rows, std::string meaning) {
  return dataset(names::kSeconds, F, rows, "s", std::move(meaning));
}

/// The int64 Hessian-vector product count column `name` (unit 1) over the rows `rows`; written
/// only where `only_if` is > 0.
inline Item hvp_count_column(std::string name, const std::string& rows, std::string meaning,
                             std::string only_if = "") {
  return dataset(std::move(name), I, rows, "1", std::move(meaning), std::move(only_if));
}

/// The test-set loss column (unit nats) of /train/epochs and /train/evals, over the rows `rows`.
inline Item test_loss_column(const std::string& rows) {
  return dataset(names::kTestLoss, F, rows, "nats", "mean cross-entropy on the test set, evaluation mode");
}

/// The test-set accuracy column (unit 1) of /train/epochs and /train/evals, over the rows `rows`.
inline Item test_acc_column(const std::string& rows) {
  return dataset(names::kTestAcc, F, rows, "1", "accuracy on the test set, evaluation mode");
}

}  // namespace bnl::record::schema::detail
