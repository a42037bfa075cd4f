#pragma once
/// \file
/// The surface file (schema: docs/hdf5_schema.md, /surface): created with its axes, a NaN
/// grid, the directions and their attributes; reopened by --resume with the grid computed so
/// far; closed with the timing and its final status.

#include <cstdint>
#include <memory>
#include <string>

namespace bnl::io {
class FileEditor;
class RunFile;
}

namespace bnl::cli {

struct DirectionInfo;
struct GridOutcome;
struct PreparedRun;
struct SurfaceGrid;
struct SurfaceOptions;

/// Creates opt.cfg.out (replacing it with --overwrite) holding the provenance, the axes, the
/// NaN grid, the directions g.dirs (described by `info`) and the surface attributes; returns
/// it open for the grid's updates. `toml` is the resolved configuration, `world` the number
/// of ranks.
std::unique_ptr<io::FileEditor> create_surface_file(const SurfaceOptions& opt, const PreparedRun& run,
                                                    const std::string& toml, const SurfaceGrid& g,
                                                    const DirectionInfo& info, int world);

/// --resume: reads the grid and the directions of `out` into `g` (whose shape and parameters
/// they must match, else a ConfigError) and reopens the file with status "running".
std::unique_ptr<io::FileEditor> resume_surface_file(const std::string& out, const SurfaceOptions& opt, SurfaceGrid& g,
                                                    int world);

/// Records the timing of `r` and the final status ("interrupted" or "complete") and closes.
void finish_surface_file(io::FileEditor& editor, const GridOutcome& r, std::int64_t examples);

/// Marks the file "failed" and closes it, quietly: called while another error propagates.
void fail_surface_file(io::FileEditor* editor);

/// Root attributes every bnlandscape output carries, for a surface file (status "running").
void write_provenance(io::RunFile& f, const SurfaceOptions& opt, const PreparedRun& run, const std::string& toml);

}  // namespace bnl::cli
