#include "bnlandscape/cli/export_command.h"
#include "bnlandscape/cli/export_options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "bnlandscape/core/json.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {

std::string json_quote(const std::string& s) { return core::json_quote(s); }

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return csv_number(v);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {

void walk(const io::RunReader& r, const std::string& group, std::vector<SeriesGroup>& out) {
  SeriesGroup g;
  g.path = group;
  std::vector<std::string> subgroups;
  for (const auto& name : r.list(group)) {
    const std::string p = record::names::at(group, name);
    if (!r.is_dataset(p)) {
      if (p != record::names::kCheckpoints) subgroups.push_back(p);
      continue;
    }
    SeriesColumn c;
    c.name = name;
    try {
      auto a = r.read(p);
      c.values = std::move(a.values);
      c.dims = std::move(a.dims);
    } catch (const std::exception&) {
      continue;  // not numeric (strings, enums)
    }
    for (const char* attr : {record::names::kLayers, "levels"}) {
      auto labels = r.string_list_attr(attr, p);
      if (c.dims.size() == 2 && static_cast<std::int64_t>(labels.size()) == c.dims[1]) {
        c.labels = std::move(labels);
        break;
      }
    }
    g.columns.push_back(std::move(c));
  }
  // The row index first, then the file's order (which is by name for most writers).
  std::stable_partition(g.columns.begin(), g.columns.end(), [](const SeriesColumn& c) { return c.name == record::names::kStep; });
  if (!g.columns.empty()) {
    std::map<std::int64_t, int> count;
    for (const auto& c : g.columns) {
      if (c.name == record::names::kStep && c.dims.size() == 1) {
        g.rows = c.dims[0];
        count.clear();
        break;
      }
      if (!c.dims.empty()) ++count[c.dims[0]];
    }
    int best = 0;
    for (const auto& [rows, n] : count)
      if (n > best) {
        best = n;
        g.rows = rows;
      }
    out.push_back(std::move(g));
  }
  for (const auto& s : subgroups) walk(r, s, out);
}

/// Number of columns of a dataset whose dimension 0 is the row count (product of the rest).
std::int64_t width(const SeriesColumn& c) {
  std::int64_t w = 1;
  for (std::size_t i = 1; i < c.dims.size(); ++i) w *= c.dims[i];
  return w;
}

bool aligned(const SeriesGroup& g, const SeriesColumn& c) { return !c.dims.empty() && c.dims[0] == g.rows; }

std::string column_name(const SeriesColumn& c, std::int64_t j) {
  if (c.dims.size() == 1) return c.name;
  if (!c.labels.empty()) return c.name + "[" + c.labels[static_cast<std::size_t>(j)] + "]";
  return c.name + "[" + std::to_string(j) + "]";
}

std::string file_stem(const std::string& group_path) {
  if (group_path == "/") return "root";
  std::string s = group_path.substr(1);
  for (char& ch : s)
    if (ch == '/') ch = '_';
  return s;
}

/// Root attributes of the schema (RunReader cannot list attributes); absent ones are skipped.
std::vector<std::pair<std::string, std::string>> root_attributes(const io::RunReader& r, bool json) {
  using namespace record::names;
  // Exported in this order (the order of the original list; later attributes are not exported).
  static const char* kNames[] = {kFormat,         kSchemaVersion,   kStatus,      kDivergedAtStep, kConfigToml,
                                 kVersion,        kGitRevision,     kTorchVersion, kBlas,          kIntraOpThreads,
                                 kBlasThreads,    kHost,            kSeed,        kStartTime,      kEndTime,
                                 kDataFiles,      kCheckpointFile,  kCheckpointGroup, kDevice,     kDeviceName,
                                 kTorchBuild};
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* name : kNames) {
    if (auto s = r.string_attr(name)) out.emplace_back(name, json ? json_quote(*s) : *s);
    else if (auto v = r.number_attr(name)) out.emplace_back(name, json ? json_number(*v) : csv_number(*v));
  }
  return out;
}

std::ofstream open_out(const std::filesystem::path& p) {
  std::ofstream f(p, std::ios::binary);
  if (!f) throw train::ConfigError(p.string() + ": cannot open for writing");
  return f;
}

void write_csv(const ExportOptions& opt) {
  io::RunReader r(opt.file);
  const auto groups = read_series_groups(opt.file);
  const std::filesystem::path dir(opt.out);
  {
    const auto p = dir / "attributes.csv";
    auto f = open_out(p);
    f << "name,value\n";
    for (const auto& [k, v] : root_attributes(r, false)) f << csv_field(k) << "," << csv_field(v) << "\n";
    std::cout << "wrote " << p.string() << "\n";
  }
  for (const auto& g : groups) {
    const std::string stem = file_stem(g.path);
    std::vector<const SeriesColumn*> cols;
    for (const auto& c : g.columns) {
      if (c.dims.size() >= 2 && width(c) > opt.max_columns) {
        std::cerr << "export: skipped " << g.path << "/" << c.name << " (" << width(c) << " columns, more than "
                  << opt.max_columns << "; use --format json or h5py)\n";
        continue;
      }
      if (aligned(g, c)) {
        cols.push_back(&c);
        continue;
      }
      // A dataset that does not share the group's rows (step_sizes, bin_edges, ...): its own file.
      const auto p = dir / (stem + "." + c.name + ".csv");
      auto f = open_out(p);
      const std::int64_t rows = c.dims.empty() ? 1 : c.dims[0];
      const std::int64_t w = c.dims.empty() ? 1 : width(c);
      for (std::int64_t j = 0; j < w; ++j) f << (j ? "," : "") << csv_field(column_name(c, j));
      f << "\n";
      for (std::int64_t i = 0; i < rows; ++i) {
        for (std::int64_t j = 0; j < w; ++j) f << (j ? "," : "") << csv_number(c.values[static_cast<std::size_t>(i * w + j)]);
        f << "\n";
      }
      std::cout << "wrote " << p.string() << " (" << rows << " rows)\n";
    }
    if (cols.empty()) continue;
    const auto p = dir / (stem + ".csv");
    auto f = open_out(p);
    bool first = true;
    std::size_t ncols = 0;
    for (const auto* c : cols)
      for (std::int64_t j = 0; j < width(*c); ++j, ++ncols) {
        f << (first ? "" : ",") << csv_field(column_name(*c, j));
        first = false;
      }
    f << "\n";
    for (std::int64_t i = 0; i < g.rows; ++i) {
      first = true;
      for (const auto* c : cols) {
        const std::int64_t w = width(*c);
        for (std::int64_t j = 0; j < w; ++j) {
          f << (first ? "" : ",") << csv_number(c->values[static_cast<std::size_t>(i * w + j)]);
          first = false;
        }
      }
      f << "\n";
    }
    std::cout << "wrote " << p.string() << " (" << g.rows << " rows, " << ncols << " columns)\n";
  }
}

/// Nested JSON arrays of a C-order array.
void json_array(std::ostream& os, const std::vector<double>& v, const std::vector<std::int64_t>& dims, std::size_t dim,
                std::size_t& pos) {
  if (dim == dims.size()) {
    os << json_number(v[pos++]);
    return;
  }
  os << "[";
  for (std::int64_t i = 0; i < dims[dim]; ++i) {
    if (i) os << ", ";
    json_array(os, v, dims, dim + 1, pos);
  }
  os << "]";
}

void write_json(const ExportOptions& opt) {
  io::RunReader r(opt.file);
  const auto groups = read_series_groups(opt.file);
  const auto p = std::filesystem::path(opt.out) / (std::filesystem::path(opt.file).stem().string() + ".json");
  auto f = open_out(p);
  f << "{\n  \"file\": " << json_quote(opt.file) << ",\n  \"attributes\": {";
  bool first = true;
  for (const auto& [k, v] : root_attributes(r, true)) {
    f << (first ? "" : ",") << "\n    " << json_quote(k) << ": " << v;
    first = false;
  }
  f << "\n  },\n  \"groups\": {";
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    f << (gi ? "," : "") << "\n    " << json_quote(g.path) << ": {\"rows\": " << g.rows << ", \"datasets\": {";
    for (std::size_t ci = 0; ci < g.columns.size(); ++ci) {
      const auto& c = g.columns[ci];
      f << (ci ? "," : "") << "\n      " << json_quote(c.name) << ": {\"shape\": [";
      for (std::size_t d = 0; d < c.dims.size(); ++d) f << (d ? ", " : "") << c.dims[d];
      f << "]";
      if (!c.labels.empty()) {
        f << ", \"columns\": [";
        for (std::size_t j = 0; j < c.labels.size(); ++j) f << (j ? ", " : "") << json_quote(c.labels[j]);
        f << "]";
      }
      f << ", \"data\": ";
      std::size_t pos = 0;
      json_array(f, c.values, c.dims, 0, pos);
      f << "}";
    }
    f << "}}";
  }
  f << "\n  }\n}\n";
  std::cout << "wrote " << p.string() << "\n";
}

}  // namespace

std::vector<SeriesGroup> read_series_groups(const std::string& path) {
  io::RunReader r(path);
  std::vector<SeriesGroup> out;
  walk(r, "/", out);
  return out;
}

Command setup_export(CLI::App& app) {
  auto opt = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "write every series of a run file as CSV or JSON");
  sub->footer(
      "csv: one file per group, named after its path (/train/steps -> train_steps.csv), one row per\n"
      "  step/probe/snapshot; a [n x L] dataset becomes L columns name[layer] (or name[j]); datasets that\n"
      "  do not share the group's rows (step_sizes, bin_edges, ...) go to <group>.<name>.csv; root\n"
      "  attributes to attributes.csv. NaN is written as nan.\n"
      "json: one file <run>.json with the root attributes and every dataset as {shape, data} (nested\n"
      "  lists in C order), NaN and infinities as null.\n"
      "Checkpoints (/checkpoints) are weights, not series, and are not exported.");
  visit_export_specs(*opt, OptionAdder{*sub});
  return {sub, [opt] { return run_export(*opt); }};
}

int run_export(const ExportOptions& opt) {
  std::error_code ec;
  std::filesystem::create_directories(opt.out, ec);
  if (ec) throw train::ConfigError("--out " + opt.out + ": cannot create the directory: " + ec.message());
  if (opt.format == "json") write_json(opt);
  else write_csv(opt);
  return kExitOk;
}

}  // namespace bnl::cli
