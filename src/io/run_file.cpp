#include "bnlandscape/io/run_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

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

// The core driver keeps the whole file in memory and never writes to disk itself
// (backing_store = 0): the file on disk changes only by commit(), which renames a complete
// image over it, so a process killed at any instant leaves the previous commit or the next
// one, never a file HDF5 was half way through updating (docs/crash_safety.md).
constexpr std::size_t kCoreIncrement = 4 << 20;

H5::FileAccPropList core_fapl(const std::vector<char>* image) {
  H5::FileAccPropList fapl;
  detail::check(H5Pset_fapl_core(fapl.getId(), kCoreIncrement, 0), "H5Pset_fapl_core");
  if (image) {
    detail::check(H5Pset_file_image(fapl.getId(), const_cast<char*>(image->data()), image->size()),
                  "H5Pset_file_image");
  }
  return fapl;
}

// A commit is due at a periodic flush point or checkpoint once the time since the last one is
// this many times what the last one took, so that writing whole images costs at most ~2% of
// the run even when checkpoints make the file large; close() and flush() always commit. A
// file whose last commit took under kCheapCommitSeconds (every file without many checkpoints)
// is committed every time.
constexpr double kCommitCostFactor = 50.0;
constexpr double kCheapCommitSeconds = 0.005;

// Test-only hook, BNL_TEST_COMMIT_HOOK="<stage>:<n>[:<ms>]": at <stage> (flushed, mid-write,
// written, renamed) of this process's n-th commit (or every commit for "*"), sleep <ms>
// milliseconds, or without <ms> kill the process with SIGKILL. The crash tests use it to
// land kills inside commits; it is read once per process and inert when unset.
struct CommitHook {
  std::string stage;
  long n = -1;  // -1: every commit
  long ms = -1;
  bool active = false;
};

const CommitHook& commit_hook() {
  static const CommitHook hook = [] {
    CommitHook h;
    const char* env = std::getenv("BNL_TEST_COMMIT_HOOK");
    if (!env || !*env) return h;
    const std::string v(env);
    const auto a = v.find(':');
    if (a == std::string::npos) return h;
    const auto b = v.find(':', a + 1);
    h.stage = v.substr(0, a);
    const std::string n = v.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    h.n = n == "*" ? -1 : std::atol(n.c_str());
    if (b != std::string::npos) h.ms = std::atol(v.c_str() + b + 1);
    h.active = true;
    return h;
  }();
  return hook;
}

std::atomic<long>& commit_counter() {
  static std::atomic<long> n{0};
  return n;
}

void at_commit_stage(const char* stage, long commit) {
  const CommitHook& h = commit_hook();
  if (!h.active || h.stage != stage || (h.n >= 0 && h.n != commit)) return;
  if (h.ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(h.ms));
  } else {
    std::raise(SIGKILL);
  }
}

std::string errno_text(int err) { return std::strerror(err); }

// Writes `image` to "<path>.tmp" and renames it over `path` (or, with `exclusive`, links it
// to `path` so that an existing file is never replaced). `durable` adds fsync of the file and
// its directory, for the final state (power loss); a killed process needs neither, since the
// page cache outlives it.
void replace_file(const std::string& path, const std::vector<char>& image, bool exclusive,
                  bool durable, long commit) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& why) {
    ::unlink(tmp.c_str());
    throw detail::Failure(why);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail("creating " + in_quotes(tmp) + ": " + errno_text(errno));
  auto write_all = [&](const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const int err = errno;
        ::close(fd);
        fail("writing " + in_quotes(tmp) + ": " + errno_text(err));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  // In two halves, so that the test hook (and a kill) can land in the middle.
  const std::size_t half = image.size() / 2;
  write_all(image.data(), half);
  at_commit_stage("mid-write", commit);
  write_all(image.data() + half, image.size() - half);
  if (durable && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("syncing " + in_quotes(tmp) + ": " + errno_text(err));
  }
  if (::close(fd) != 0) fail("closing " + in_quotes(tmp) + ": " + errno_text(errno));
  at_commit_stage("written", commit);
  bool placed = false;
  if (exclusive) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      placed = true;
    } else {
      const int err = errno;
      if (err == EEXIST) fail("file exists (overwrite to replace it)");
      // Filesystems without hard links: the caller checked that the path was free; rename.
      const bool no_links = err == EPERM || err == EOPNOTSUPP || err == ENOSYS || err == EMLINK;
      if (!no_links) fail("linking: " + errno_text(err));
      if (::access(path.c_str(), F_OK) == 0) fail("file exists (overwrite to replace it)");
    }
  }
  if (!placed && ::rename(tmp.c_str(), path.c_str()) != 0) {
    fail("renaming " + in_quotes(tmp) + ": " + errno_text(errno));
  }
  if (durable) {
    const auto parent = std::filesystem::path(path).parent_path();
    const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  at_commit_stage("renamed", commit);
}

}  // namespace

struct SeriesGroup::Impl {
  const std::string* file = nullptr;  // RunFile::Impl::path
  const bool* open = nullptr;         // RunFile::Impl::open
  bool* dirty = nullptr;              // RunFile::Impl::dirty
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
  // Whether the in-memory file differs from the last image on disk.
  bool dirty = true;
  // The first commit of a created (not overwritten) file must not replace a file that another
  // process made in the meantime.
  bool exclusive = false;
  std::vector<char> image;
  double last_commit_seconds = 0.0;
  CommitStats stats;
  std::chrono::steady_clock::time_point last_commit_end = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<SeriesGroup>> series;

  void require_open(const std::string& what) const {
    if (!open) throw IoError(path + ": " + what + " failed: file is closed");
  }

  template <typename T>
  void set_root_attr(const std::string& name, const T& value) {
    const std::string what = "setting root attribute " + in_quotes(name);
    require_open(what);
    dirty = true;
    guarded(path, what, [&] { detail::write_attr(file->openGroup("/"), name, value); });
  }

  bool commit_due() const {
    if (last_commit_seconds < kCheapCommitSeconds) return true;
    const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_commit_end).count();
    return since >= kCommitCostFactor * last_commit_seconds;
  }

  // Writes the in-memory file to disk as one atomic replacement (see replace_file).
  void commit(const std::string& what, bool durable) {
    if (!dirty) return;
    const auto t0 = std::chrono::steady_clock::now();
    const long n = ++commit_counter();
    guarded(path, what, [&] {
      file->flush(H5F_SCOPE_GLOBAL);
      at_commit_stage("flushed", n);
      const ssize_t size = H5Fget_file_image(file->getId(), nullptr, 0);
      detail::check(size, "H5Fget_file_image");
      image.resize(static_cast<std::size_t>(size));
      detail::check(H5Fget_file_image(file->getId(), image.data(), image.size()), "H5Fget_file_image");
      replace_file(path, image, exclusive, durable, n);
    });
    exclusive = false;
    dirty = false;
    last_commit_end = std::chrono::steady_clock::now();
    last_commit_seconds = std::chrono::duration<double>(last_commit_end - t0).count();
    ++stats.commits;
    stats.bytes += static_cast<std::int64_t>(image.size());
    stats.seconds += last_commit_seconds;
  }
};

namespace {

// Reads `count` rows from `start` of a dataset as raw bytes of its own type: every chunk in
// the range passes through its filters, which is where a torn chunk shows.
void read_rows(const H5::DataSet& ds, hsize_t start, hsize_t count) {
  H5::DataSpace space = ds.getSpace();
  const int rank = space.getSimpleExtentNdims();
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  space.getSimpleExtentDims(dims.data());
  std::vector<hsize_t> offset(dims.size(), 0), n = dims;
  offset[0] = start;
  n[0] = count;
  std::size_t values = 1;
  for (auto d : n) values *= static_cast<std::size_t>(d);
  if (values == 0) return;
  space.selectHyperslab(H5S_SELECT_SET, n.data(), offset.data());
  const H5::DataSpace mem(rank, n.data());
  const H5::DataType type = ds.getDataType();
  std::vector<char> buf(values * type.getSize());
  ds.read(buf.data(), type, mem, space);
}

// Rows of a series dataset that read back: all `rows`, or those before its first chunk that
// does not (a file written before commits were atomic, killed during a flush).
hsize_t readable_rows(const H5::DataSet& ds, hsize_t rows) {
  try {
    read_rows(ds, 0, rows);
    return rows;
  } catch (const H5::Exception&) {
  }
  const H5::DSetCreatPropList dcpl = ds.getCreatePlist();
  hsize_t chunk = 1;
  if (dcpl.getLayout() == H5D_CHUNKED) {
    std::vector<hsize_t> c(static_cast<std::size_t>(ds.getSpace().getSimpleExtentNdims()));
    dcpl.getChunk(static_cast<int>(c.size()), c.data());
    chunk = std::max<hsize_t>(1, c[0]);
  }
  for (hsize_t start = 0; start < rows; start += chunk) {
    try {
      read_rows(ds, start, std::min(chunk, rows - start));
    } catch (const H5::Exception&) {
      return start;
    }
  }
  return rows;
}

}  // namespace

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
  *s.dirty = true;
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
  *s.dirty = true;
  guarded(*s.file, what, [&] { detail::write_attr(*s.group, name, value); });
}

template <typename T>
void set_dataset_attr(SeriesGroup::Impl& s, const std::string& column, const std::string& name,
                      const T& value) {
  const std::size_t i = s.column_index(column);
  const std::string what =
      "setting attribute " + in_quotes(name) + " of " + in_quotes(s.name + "/" + column);
  s.require_open(what);
  *s.dirty = true;
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
  // The first commit links rather than renames: another process may create the file between
  // the check above and then.
  impl->exclusive = !overwrite;
  guarded(path, what, [&] {
    // The name only labels the in-memory file; nothing is opened on disk.
    impl->file = std::make_unique<H5::H5File>(path + ".in-memory", H5F_ACC_TRUNC,
                                              H5::FileCreatPropList::DEFAULT, core_fapl(nullptr));
  });
  impl->open = true;
  std::unique_ptr<RunFile> run(new RunFile(std::move(impl)));
  run->set_attr("format", std::string(kFormatName));
  run->set_attr("schema_version", kSchemaVersion);
  run->impl_->commit(what, false);
  return run;
}

std::unique_ptr<RunFile> RunFile::open_existing(const std::string& path) {
  const std::string what = "opening run file for appending";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(path + ": " + what + " failed: no such file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  // A killed commit leaves at most this temporary file; the run file itself is whole.
  std::filesystem::remove(path + ".tmp", ec);
  guarded(path, what, [&] {
    std::vector<char> bytes;
    {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw Failure("cannot read it: " + errno_text(errno));
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (in.bad()) throw Failure("reading it failed: " + errno_text(errno));
    }
    // Opened from an image in memory: the file on disk stays unlocked and untouched until the
    // first commit replaces it.
    impl->file = std::make_unique<H5::H5File>(path + ".in-memory", H5F_ACC_RDWR,
                                              H5::FileCreatPropList::DEFAULT, core_fapl(&bytes));
    const H5::Group root = impl->file->openGroup("/");
    if (!root.attrExists("format")) throw Failure("not a bnlandscape run file (no root attribute 'format')");
  });
  impl->open = true;
  impl->dirty = false;
  return std::unique_ptr<RunFile>(new RunFile(std::move(impl)));
}

void RunFile::remove(const std::string& path) {
  Impl& f = *impl_;
  const std::string apath = detail::absolute_path(path);
  const std::string what = "removing " + in_quotes(apath);
  f.require_open(what);
  f.dirty = true;
  guarded(f.path, what, [&] {
    if (apath == "/" || !detail::path_exists(*f.file, apath)) throw Failure("it does not exist");
    detail::check(H5Ldelete(f.file->getId(), apath.c_str(), H5P_DEFAULT), "H5Ldelete");
  });
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
  s->dirty = &f.dirty;
  s->name = gpath;
  s->specs = columns;
  f.dirty = true;
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
    // All readable steps wanted but some unreadable: the damage may hold wanted rows too.
    bool lost = keep == readable && readable < rows;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto& c = columns[i];
      H5::DataSet& ds = found[i];
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
      const std::size_t ok = readable_rows(ds, static_cast<hsize_t>(keep));
      if (ok < keep) {
        keep = ok;
        lost = true;
      }
      s->widths.push_back(width);
    }
    if (lost) {
      std::cerr << "bnlandscape: warning: " << f.path << ": " << gpath << " does not read back past row " << keep
                << " (a damaged chunk); the rows from there to the checkpoint are lost\n";
    }
    for (std::size_t i = 0; i < columns.size(); ++i) {
      H5::DataSet& ds = found[i];
      std::vector<hsize_t> dims(static_cast<std::size_t>(ds.getSpace().getSimpleExtentNdims()));
      ds.getSpace().getSimpleExtentDims(dims.data());
      dims[0] = keep;
      ds.extend(dims.data());
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
  s->dirty = &f.dirty;
  s->name = gpath;
  s->specs = columns;
  s->widths = widths;
  f.dirty = true;
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
  f.dirty = true;
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
  f.dirty = true;
  guarded(f.path, what, [&] {
    if (detail::path_exists(*f.file, gpath)) throw Failure("it already exists");
    const H5::Group group = detail::require_group(*f.file, gpath, true);
    detail::write_attr(group, "step", step);
    for (const auto& [name, t] : tensors) detail::write_tensor(group, name, t);
    const H5::Group state_group = detail::require_group(*f.file, gpath + "/_state", true);
    for (const auto& [name, t] : state) detail::write_tensor(state_group, name, t);
  });
  for (auto& s : f.series) s->flush();
  if (f.commit_due()) f.commit(what, false);
  return gpath;
}

void RunFile::flush() {
  Impl& f = *impl_;
  f.require_open("flushing");
  for (auto& s : f.series) s->flush();
  f.commit("flushing", false);
}

void RunFile::flush_if_due() {
  Impl& f = *impl_;
  f.require_open("flushing");
  if (f.commit_due()) flush();
}


void RunFile::close() {
  Impl& f = *impl_;
  if (!f.open) return;
  std::exception_ptr first_error;
  try {
    f.require_open("closing");
    for (auto& s : f.series) s->flush();
    f.commit("closing", true);
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

H5::H5File& detail::RunFileAccess::file(RunFile& run, const std::string& what) {
  RunFile::Impl& f = *run.impl_;
  f.require_open(what);
  f.dirty = true;
  return *f.file;
}

RunFile::CommitStats RunFile::commit_stats() const { return impl_->stats; }

bool must_skip_hdf5_cleanup() { return unclosable_files().load() > 0; }

const std::string& RunFile::path() const { return impl_->path; }

}  // namespace bnl::io
