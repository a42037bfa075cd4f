#include "bnlandscape/io/run_file.h"

#include <atomic>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "atomic_replace.h"
#include "commit_hook.h"
#include "run_file_impl.h"

namespace bnl::io {
namespace {

using detail::errno_text;
using detail::Failure;
using detail::guarded;
using detail::in_quotes;

// Run files whose close failed in this process (see RunFile::close).
std::atomic<int>& unclosable_files() {
  static std::atomic<int> n{0};
  return n;
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

}  // namespace

void RunFile::Impl::commit(const std::string& what, bool durable) {
  if (!dirty) return;
  const auto t0 = std::chrono::steady_clock::now();
  const long n = detail::next_commit_number();
  detail::guarded(path, what, [&] {
    file->flush(H5F_SCOPE_GLOBAL);
    detail::at_commit_stage("flushed", n);
    const ssize_t size = H5Fget_file_image(file->getId(), nullptr, 0);
    detail::check(size, "H5Fget_file_image");
    image.resize(static_cast<std::size_t>(size));
    detail::check(H5Fget_file_image(file->getId(), image.data(), image.size()), "H5Fget_file_image");
    detail::replace_file(path, image, exclusive, durable, n);
  });
  exclusive = false;
  dirty = false;
  last_commit_end = std::chrono::steady_clock::now();
  last_commit_seconds = std::chrono::duration<double>(last_commit_end - t0).count();
  ++stats.commits;
  stats.bytes += static_cast<std::int64_t>(image.size());
  stats.seconds += last_commit_seconds;
}

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
    throw IoError(path + ": " + what + " failed: file exists (--overwrite replaces it)");
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
  detail::require_readable_file(path);
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
