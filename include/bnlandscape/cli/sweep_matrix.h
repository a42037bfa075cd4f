#pragma once
/// \file
/// The matrix of a sweep file: its fixed options, its [sweep] axes and their product, the
/// points' file names, and whether a finished run file belongs to a point.
///
/// FILE's top-level keys are fixed options, spelled as in `train`/`probe` config files; its
/// `[sweep]` table maps option names to lists of values, and the matrix is their product (the
/// first key varies slowest). A list of lists is written as quoted strings
/// (`hidden_dims = ["512,256,128", "256,128"]`).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/cli/config_file.h"

namespace bnl::cli {

/// One swept option and its values (command-line form).
struct SweepAxis {
  std::string key;                  ///< with underscores
  std::vector<std::string> values;  ///< in file order, command-line form, distinct
  int line = 0;                     ///< line of the key in the sweep file
};

/// A parsed sweep file.
struct SweepSpec {
  std::string source;              ///< the sweep file's name, for messages
  std::vector<ConfigEntry> fixed;  ///< top-level keys (underscores), command-line values
  std::vector<SweepAxis> axes;     ///< the [sweep] table, in file order
  std::string command;             ///< "probe" if any key is a probe option, else "train"
  std::size_t size() const;        ///< number of points (product of the list lengths)
};

/// One point of the matrix.
struct SweepPoint {
  std::size_t index = 0;  ///< 0-based, the first axis varying slowest
  std::string name;  ///< file stem: "bn=custom_lr=0.1_seed=0" (values sanitised)
  std::vector<std::pair<std::string, std::string>> values;  ///< fixed then swept keys, underscores
};

/// What a sweep file key is: a flag (bool) or not, and whether only `probe` takes it.
struct SweepOptionKind {
  bool is_bool = false;   ///< a flag: passed as --key=true|false
  bool is_probe = false;  ///< an option of `probe` only: the sweep runs probe
};

/// Every option a sweep file may set, by underscored key: those of `train`, and those `probe`
/// adds.
const std::map<std::string, SweepOptionKind>& sweep_option_table();

/// Parses a sweep file; throws train::ConfigError naming the file, line and problem (unknown
/// key, a key both fixed and swept, an empty list, a table other than [sweep], `out`).
SweepSpec parse_sweep_spec(const std::string& text, const std::string& source);
/// Reads and parses the sweep file at `path` (a missing file is a ConfigError naming it).
SweepSpec read_sweep_spec(const std::string& path);

/// Every point, in index order, with unique names.
std::vector<SweepPoint> sweep_points(const SweepSpec& spec);

/// A value as a file-name component: letters, digits, '.', '+' and '-' kept, anything else '-'.
std::string sanitize_value(const std::string& v);

/// Why a finished run file does not belong to point `pt` (nullopt if it does): a key of the
/// point whose value in the file's config_toml (`stored_toml`, read from `file`) differs.
std::optional<std::string> config_mismatch(const std::string& stored_toml, const std::string& file,
                                           const SweepPoint& pt);

/// The `threads` option the sweep file gives (the largest value if swept), 0 if none or not a
/// number; `given` tells whether the file sets it at all.
std::int64_t given_threads(const SweepSpec& spec, bool& given);

}  // namespace bnl::cli
