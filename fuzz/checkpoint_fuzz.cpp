// libFuzzer harness: the checkpoint loader (read_tensor_group, list_checkpoints in
// src/io/checkpoint.cpp) on *valid* HDF5 files with unexpected contents.
//
// libhdf5's own parsing of corrupt bytes is not ours to fix, so the input is not an HDF5 file:
// it drives a generator (FuzzedDataProvider) that writes a well-formed file with the HDF5 C API
// - dataset names, ranks, shapes, dtypes (supported ones, and float16, uint16..64, strings,
// compounds, enums that are almost h5py's bool, ...), dataspaces (scalar, simple, null),
// layouts (contiguous, compact, chunked with filters), fill values, subgroups, hard, soft,
// dangling and external links, named datatypes, a checkpoint group with tracked or untracked
// creation order, and a /checkpoints group of step_N children - and then checks what the
// loader makes of it against what was written:
//   * read_tensor_group returns exactly the datasets (and links to datasets) of the group, in
//     creation order where tracked else by name, each with its stored shape, the documented
//     dtype and the stored values; or throws IoError naming the file when (and only when) the
//     group is missing, holds a dataset of an unsupported type or a null dataspace, or a
//     dangling link;
//   * list_checkpoints returns the step_<1-18 digits> subgroups of /checkpoints sorted by
//     number, or IoError when one of them is a dangling link or /checkpoints is no group.
// Any other exception (c10::Error, std::bad_alloc, H5::Exception) or result is a finding.
//
// Three stricter checks are off by default because they fail on the current loader (see
// fuzz/README.md, "Findings"); BNL_FUZZ_CKPT_STRICT=huge,bool,oneline (or =1 for all)
// turns them on:
//   * huge: a dataset may claim 2^31 to 2^38 elements with no data stored (late allocation);
//     the loader must refuse it with an IoError instead of allocating it in full;
//   * bool: an h5py bool dataset whose stored bytes are not 0/1 must not become a torch bool
//     tensor holding them;
//   * oneline: IoError messages must be one line even when a group or dataset name holds a
//     newline.

#include <H5Cpp.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <torch/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_file.h"
#include "fuzz_util.h"

namespace {

/// Whether the stricter check `what` ("huge", "bool" or "oneline") is on:
/// BNL_FUZZ_CKPT_STRICT is a comma-separated list of them, or "1" for all.
bool strict(const char* what) {
  static const std::string list = [] {
    const char* v = std::getenv("BNL_FUZZ_CKPT_STRICT");
    return "," + std::string(v != nullptr ? v : "") + ",";
  }();
  return list == ",1," || list.find("," + std::string(what) + ",") != std::string::npos;
}

/// With BNL_FUZZ_CKPT_STATS=1, what the generated files held and how the loader answered is
/// printed at exit (to see that both the accepting and the refusing paths are exercised).
struct Stats {
  long files = 0, reads_ok = 0, reads_refused = 0, lists_ok = 0, lists_refused = 0;
  long tensors = 0, tensor_bytes = 0, unsupported = 0, null_spaces = 0, dangling = 0;
  long crt_order_groups = 0, max_links = 0;
  ~Stats() {
    const char* v = std::getenv("BNL_FUZZ_CKPT_STATS");
    if (v == nullptr || std::string(v) != "1") return;
    std::fprintf(stderr,
                 "checkpoint_fuzz stats: files %ld; read_tensor_group ok %ld, IoError %ld; "
                 "list_checkpoints ok %ld, IoError %ld; tensors checked %ld (%ld bytes); "
                 "unsupported-type datasets %ld, null dataspaces %ld, dangling links %ld; "
                 "groups read in creation order %ld; most links in a group %ld\n",
                 files, reads_ok, reads_refused, lists_ok, lists_refused, tensors, tensor_bytes,
                 unsupported, null_spaces, dangling, crt_order_groups, max_links);
  }
};
Stats stats;

/// Aborts when an HDF5 call made by the generator fails: that is a harness bug.
hid_t h5(hid_t id, const char* call) {
  if (id < 0) {
    std::fprintf(stderr, "checkpoint_fuzz generator: %s failed\n", call);
    H5Eprint2(H5E_DEFAULT, stderr);
    std::abort();
  }
  return id;
}
#define H5OK(call) h5(static_cast<hid_t>(call), #call)

// ---------------------------------------------------------------------------------------------
// Types.

enum class TypeId {
  F32LE, F32BE, F64LE, F64BE, I8, I16LE, I16BE, I32LE, I32BE, I64LE, I64BE, U8,
  BoolI8, BoolU8, BoolTrueFirst,
  // unsupported from here on
  U16, U32, U64, Int24, F16, LongDouble, EnumSwapped, EnumThree, EnumLower, EnumWide,
  FixedString, VlenString, Compound, ArrayF32, VlenInt, Opaque, Bitfield, ObjRef,
  Count
};

struct TypeInfo {
  hid_t file = -1;                          // file datatype (closed by the caller)
  hid_t mem = -1;                           // in-memory type used to write and to compare
  std::size_t mem_size = 0;                 // bytes per element in `mem`
  std::optional<torch::ScalarType> torch;   // what the loader must return; nullopt: IoError
  bool is_bool = false;
};

hid_t bool_enum(hid_t base, bool true_first, const char* f_name, const char* t_name,
                int f_value, int t_value) {
  const hid_t t = H5OK(H5Tenum_create(base));
  long long f = f_value, tv = t_value;
  // H5Tenum_insert takes the value in the base type's memory format.
  std::uint8_t fbuf[8] = {}, tbuf[8] = {};
  const std::size_t size = H5Tget_size(base);
  std::memcpy(fbuf, &f, size);
  std::memcpy(tbuf, &tv, size);
  if (true_first) {
    H5OK(H5Tenum_insert(t, t_name, tbuf));
    H5OK(H5Tenum_insert(t, f_name, fbuf));
  } else {
    H5OK(H5Tenum_insert(t, f_name, fbuf));
    H5OK(H5Tenum_insert(t, t_name, tbuf));
  }
  return t;
}

/// h5py's bool: int8 enum {FALSE = 0, TRUE = 1}; the loader's in-memory type is the same.
hid_t h5py_bool() { return bool_enum(H5T_NATIVE_INT8, false, "FALSE", "TRUE", 0, 1); }

TypeInfo make_type(TypeId id) {
  TypeInfo ti;
  auto native = [&](hid_t file, hid_t mem, std::size_t size, torch::ScalarType st) {
    ti.file = H5OK(H5Tcopy(file));
    ti.mem = H5OK(H5Tcopy(mem));
    ti.mem_size = size;
    ti.torch = st;
  };
  auto unsupported = [&](hid_t file) {
    ti.file = file;
    ti.mem = H5OK(H5Tcopy(file));
    ti.mem_size = H5Tget_size(file);
  };
  switch (id) {
    case TypeId::F32LE: native(H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, torch::kFloat); break;
    case TypeId::F32BE: native(H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, 4, torch::kFloat); break;
    case TypeId::F64LE: native(H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, torch::kDouble); break;
    case TypeId::F64BE: native(H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 8, torch::kDouble); break;
    case TypeId::I8: native(H5T_STD_I8LE, H5T_NATIVE_INT8, 1, torch::kChar); break;
    case TypeId::I16LE: native(H5T_STD_I16LE, H5T_NATIVE_INT16, 2, torch::kShort); break;
    case TypeId::I16BE: native(H5T_STD_I16BE, H5T_NATIVE_INT16, 2, torch::kShort); break;
    case TypeId::I32LE: native(H5T_STD_I32LE, H5T_NATIVE_INT32, 4, torch::kInt); break;
    case TypeId::I32BE: native(H5T_STD_I32BE, H5T_NATIVE_INT32, 4, torch::kInt); break;
    case TypeId::I64LE: native(H5T_STD_I64LE, H5T_NATIVE_INT64, 8, torch::kLong); break;
    case TypeId::I64BE: native(H5T_STD_I64BE, H5T_NATIVE_INT64, 8, torch::kLong); break;
    case TypeId::U8: native(H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, torch::kByte); break;
    case TypeId::BoolI8:
    case TypeId::BoolU8:
    case TypeId::BoolTrueFirst:
      ti.file = id == TypeId::BoolU8 ? bool_enum(H5T_NATIVE_UINT8, false, "FALSE", "TRUE", 0, 1)
                                     : bool_enum(H5T_NATIVE_INT8, id == TypeId::BoolTrueFirst,
                                                 "FALSE", "TRUE", 0, 1);
      ti.mem = h5py_bool();
      ti.mem_size = 1;
      ti.torch = torch::kBool;
      ti.is_bool = true;
      break;
    case TypeId::U16: unsupported(H5OK(H5Tcopy(H5T_STD_U16LE))); break;
    case TypeId::U32: unsupported(H5OK(H5Tcopy(H5T_STD_U32BE))); break;
    case TypeId::U64: unsupported(H5OK(H5Tcopy(H5T_STD_U64LE))); break;
    case TypeId::Int24: {
      const hid_t t = H5OK(H5Tcopy(H5T_STD_I32LE));
      H5OK(H5Tset_precision(t, 24));
      H5OK(H5Tset_size(t, 3));
      unsupported(t);
      break;
    }
    case TypeId::F16: {
      // IEEE half precision as h5py stores numpy float16.
      const hid_t t = H5OK(H5Tcopy(H5T_IEEE_F32LE));
      H5OK(H5Tset_fields(t, 15, 10, 5, 0, 10));
      H5OK(H5Tset_size(t, 2));
      H5OK(H5Tset_ebias(t, 15));
      unsupported(t);
      break;
    }
    case TypeId::LongDouble: unsupported(H5OK(H5Tcopy(H5T_NATIVE_LDOUBLE))); break;
    case TypeId::EnumSwapped:
      unsupported(bool_enum(H5T_NATIVE_INT8, false, "FALSE", "TRUE", 1, 0));
      break;
    case TypeId::EnumThree: {
      const hid_t t = bool_enum(H5T_NATIVE_INT8, false, "FALSE", "TRUE", 0, 1);
      const std::int8_t v = 2;
      H5OK(H5Tenum_insert(t, "MAYBE", &v));
      unsupported(t);
      break;
    }
    case TypeId::EnumLower:
      unsupported(bool_enum(H5T_NATIVE_INT8, false, "false", "true", 0, 1));
      break;
    case TypeId::EnumWide:
      unsupported(bool_enum(H5T_NATIVE_INT16, false, "FALSE", "TRUE", 0, 1));
      break;
    case TypeId::FixedString: {
      const hid_t t = H5OK(H5Tcopy(H5T_C_S1));
      H5OK(H5Tset_size(t, 8));
      unsupported(t);
      break;
    }
    case TypeId::VlenString: {
      const hid_t t = H5OK(H5Tcopy(H5T_C_S1));
      H5OK(H5Tset_size(t, H5T_VARIABLE));
      ti.file = t;
      ti.mem = -1;  // never written (would need pointers)
      break;
    }
    case TypeId::Compound: {
      const hid_t t = H5OK(H5Tcreate(H5T_COMPOUND, 4));
      H5OK(H5Tinsert(t, "a", 0, H5T_NATIVE_FLOAT));
      unsupported(t);
      break;
    }
    case TypeId::ArrayF32: {
      const hsize_t two = 2;
      unsupported(H5OK(H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &two)));
      break;
    }
    case TypeId::VlenInt:
      ti.file = H5OK(H5Tvlen_create(H5T_NATIVE_INT32));
      ti.mem = -1;
      break;
    case TypeId::Opaque: {
      const hid_t t = H5OK(H5Tcreate(H5T_OPAQUE, 4));
      H5OK(H5Tset_tag(t, "fuzz"));
      unsupported(t);
      break;
    }
    case TypeId::Bitfield: unsupported(H5OK(H5Tcopy(H5T_NATIVE_B8))); break;
    case TypeId::ObjRef:
      ti.file = H5OK(H5Tcopy(H5T_STD_REF_OBJ));
      ti.mem = -1;
      break;
    case TypeId::Count: std::abort();
  }
  return ti;
}

// ---------------------------------------------------------------------------------------------
// What the loader must return for one link of the group.

struct Expected {
  std::string name;
  bool dataset = false;  // a dataset (directly or through a hard or soft link)
  bool bad = false;      // reading it must be an IoError (dangling link, unsupported dataset)
  std::optional<torch::ScalarType> dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;  // contiguous values as the loader's tensor holds them
  bool bool_raw = false;            // bool bytes written without conversion (may be > 1)
};

constexpr const char* kMissingChild = "no_such_group";

std::string link_name(FuzzedDataProvider& fdp, std::size_t index, std::set<std::string>& used) {
  std::string name = fdp.ConsumeRandomLengthString(12);
  name.erase(std::remove_if(name.begin(), name.end(), [](char c) { return c == '/' || c == 0; }),
             name.end());
  if (name.empty() || name == "." || name == kMissingChild) name = "d" + std::to_string(index);
  while (!used.insert(name).second) name += "_" + std::to_string(index);
  return name;
}

/// Writes one dataset `name` into `loc`; returns what reading it must give.
/// `clean`: only supported types and non-null dataspaces, so that groups of many datasets
/// are read successfully too.
Expected make_dataset(FuzzedDataProvider& fdp, hid_t loc, const std::string& name, bool clean) {
  Expected e;
  e.name = name;
  e.dataset = true;
  const int last_type = clean ? static_cast<int>(TypeId::BoolTrueFirst)
                              : static_cast<int>(TypeId::Count) - 1;
  const auto type_id = static_cast<TypeId>(fdp.ConsumeIntegralInRange<int>(0, last_type));
  TypeInfo ti = make_type(type_id);
  e.dtype = ti.torch;
  e.bad = !ti.torch.has_value();
  if (e.bad) ++stats.unsupported;

  // Dataspace: 0 null, 1 scalar, else simple of rank 1..4.
  const int space_kind = fdp.ConsumeIntegralInRange<int>(clean ? 1 : 0, 9);
  const bool huge =
      strict("huge") && space_kind >= 2 && fdp.ConsumeIntegralInRange<int>(0, 15) == 0;
  std::vector<hsize_t> dims, maxdims;
  hid_t space;
  std::uint64_t numel = 1;
  if (space_kind == 0) {
    space = H5OK(H5Screate(H5S_NULL));
    e.bad = true;
    ++stats.null_spaces;
    numel = 0;
  } else if (space_kind == 1) {
    space = H5OK(H5Screate(H5S_SCALAR));
  } else {
    if (huge) {
      // At least 2^31 elements, none of them stored: the loader must refuse such a claim
      // rather than allocate it.
      const hsize_t d =
          (hsize_t(1) << 31) + fdp.ConsumeIntegralInRange<hsize_t>(0, hsize_t(1) << 38);
      dims.push_back(d);
      numel = d;
      e.bad = true;
    } else {
      const int rank = fdp.ConsumeIntegralInRange<int>(1, 4);
      for (int i = 0; i < rank; ++i) {
        const std::uint64_t room = numel == 0 ? 4096 : 4096 / numel;
        const std::uint64_t d =
            fdp.ConsumeIntegralInRange<std::uint64_t>(0, std::min<std::uint64_t>(room, 64));
        dims.push_back(d);
        numel *= d;
      }
    }
    maxdims = dims;
    space = -1;  // made below, once the layout is known (chunking may need unlimited dims)
  }
  for (const hsize_t d : dims) e.shape.push_back(static_cast<std::int64_t>(d));

  // Layout and filters.
  const hid_t dcpl = H5OK(H5Pcreate(H5P_DATASET_CREATE));
  const int layout = fdp.ConsumeIntegralInRange<int>(0, 2);  // contiguous, compact, chunked
  const std::uint64_t file_bytes = numel * H5Tget_size(ti.file);
  const bool write = !huge && ti.mem >= 0 && numel > 0 && fdp.ConsumeBool();
  if (layout == 1 && !huge && file_bytes < 60000 && space_kind != 0) {
    H5OK(H5Pset_layout(dcpl, H5D_COMPACT));
  } else if (layout == 2 && !dims.empty()) {
    std::vector<hsize_t> chunk;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      const hsize_t c = fdp.ConsumeIntegralInRange<hsize_t>(1, 16);
      chunk.push_back(c);
      if (c > dims[i] || fdp.ConsumeIntegralInRange<int>(0, 7) == 0) maxdims[i] = H5S_UNLIMITED;
    }
    H5OK(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
    // HDF5 refuses filters on variable-length and reference types.
    const bool filterable = type_id != TypeId::VlenString && type_id != TypeId::VlenInt &&
                            type_id != TypeId::ObjRef;
    if (filterable && fdp.ConsumeBool()) H5OK(H5Pset_shuffle(dcpl));
    if (filterable && fdp.ConsumeBool()) {
      H5OK(H5Pset_deflate(dcpl, fdp.ConsumeIntegralInRange<unsigned>(0, 9)));
    }
    if (filterable && fdp.ConsumeBool()) H5OK(H5Pset_fletcher32(dcpl));
  } else if (huge) {
    // Contiguous with late allocation: a small file claiming a huge dataset.
    H5OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE));
  }
  if (space < 0) {
    space = H5OK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()));
  }

  // Values: written from the input, or left to the fill value (0, or one chosen here).
  std::vector<std::uint8_t> fill(ti.mem_size, 0);
  if (!write && ti.torch && fdp.ConsumeBool()) {
    const std::vector<std::uint8_t> f = fdp.ConsumeBytes<std::uint8_t>(ti.mem_size);
    std::copy(f.begin(), f.end(), fill.begin());
    if (ti.is_bool) fill[0] &= 1;
    H5OK(H5Pset_fill_value(dcpl, ti.mem, fill.data()));
  }
  const hid_t ds =
      H5OK(H5Dcreate2(loc, name.c_str(), ti.file, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (ti.torch && !huge) {
    const std::size_t n = space_kind == 0 ? 0 : static_cast<std::size_t>(numel);
    e.bytes.resize(n * ti.mem_size);
    if (write) {
      const std::vector<std::uint8_t> v = fdp.ConsumeBytes<std::uint8_t>(e.bytes.size());
      std::copy(v.begin(), v.end(), e.bytes.begin());
      std::fill(e.bytes.begin() + static_cast<std::ptrdiff_t>(v.size()), e.bytes.end(), 0);
      hid_t wtype = ti.mem;
      if (ti.is_bool) {
        // Either proper 0/1 values through the enum conversion, or raw bytes stored as they
        // are (a file written by a tool that did not check them).
        e.bool_raw = strict("bool") && fdp.ConsumeBool();
        if (e.bool_raw) {
          wtype = ti.file;
        } else {
          for (auto& b : e.bytes) b &= 1;
        }
      }
      H5OK(H5Dwrite(ds, wtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, e.bytes.data()));
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        std::memcpy(&e.bytes[i * ti.mem_size], fill.data(), ti.mem_size);
      }
    }
  } else if (write) {
    // An unsupported type with values: the loader must still refuse it.
    std::vector<std::uint8_t> v(static_cast<std::size_t>(numel) * ti.mem_size, 0);
    if (type_id != TypeId::FixedString) {
      const std::vector<std::uint8_t> b = fdp.ConsumeBytes<std::uint8_t>(v.size());
      std::copy(b.begin(), b.end(), v.begin());
    }
    H5OK(H5Dwrite(ds, ti.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()));
  }
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(ti.file);
  if (ti.mem >= 0) H5Tclose(ti.mem);
  return e;
}

struct Generated {
  std::string group;                 // absolute path of the group read back
  bool group_ok = false;             // it exists and is a group
  bool crt_order = false;            // read back in creation order
  std::vector<Expected> links;       // in creation order
  std::optional<std::vector<std::string>> checkpoints;  // nullopt: list_checkpoints must throw
};

hid_t group_cpl(int order) {
  const hid_t gcpl = H5OK(H5Pcreate(H5P_GROUP_CREATE));
  if (order == 1) H5OK(H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED));
  if (order == 2) {
    H5OK(H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
  }
  return gcpl;
}

/// Fills `g` with links; the group is "/model" or a checkpoint group.
void fill_group(FuzzedDataProvider& fdp, hid_t g, const std::string& gpath, Generated& out) {
  // The root already holds /checkpoints.
  std::set<std::string> used{"checkpoints", "model"};
  // Half the groups hold nothing the loader must refuse. More than 8 links moves a group of
  // the new format from compact to dense link storage.
  const bool clean = fdp.ConsumeBool();
  const int n = fdp.ConsumeIntegralInRange<int>(0, 24);
  for (int i = 0; i < n && fdp.remaining_bytes() > 0; ++i) {
    const std::string name = link_name(fdp, static_cast<std::size_t>(i), used);
    int kind = fdp.ConsumeIntegralInRange<int>(0, 15);
    if (clean && (kind == 12 || kind == 13)) kind = 0;
    Expected e;
    e.name = name;
    if (kind <= 8) {
      e = make_dataset(fdp, g, name, clean);
    } else if (kind == 9) {  // subgroup, skipped by the loader
      H5Gclose(H5OK(H5Gcreate2(g, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    } else if (kind == 10 || kind == 11) {  // hard or soft link to an earlier dataset
      std::vector<const Expected*> targets;
      for (const Expected& x : out.links) {
        if (x.dataset && !x.bad && x.name.find('/') == std::string::npos) targets.push_back(&x);
      }
      if (targets.empty()) {
        e = make_dataset(fdp, g, name, clean);
      } else {
        const std::size_t pick = fdp.ConsumeIntegralInRange<std::size_t>(0, targets.size() - 1);
        const Expected& t = *targets[pick];
        if (kind == 10) {
          H5OK(H5Lcreate_hard(g, t.name.c_str(), g, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
        } else {
          const std::string target = gpath == "/" ? "/" + t.name : gpath + "/" + t.name;
          H5OK(H5Lcreate_soft(target.c_str(), g, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
        }
        e = t;
        e.name = name;
      }
    } else if (kind == 12) {  // dangling soft link
      H5OK(H5Lcreate_soft("/no/such/object", g, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
      e.bad = true;
    } else if (kind == 13) {  // dangling external link
      H5OK(H5Lcreate_external("/nonexistent/bnl-fuzz.h5", "/x", g, name.c_str(), H5P_DEFAULT,
                              H5P_DEFAULT));
      e.bad = true;
      ++stats.dangling;
    } else if (kind == 14) {  // named datatype, skipped by the loader
      const hid_t t = H5OK(H5Tcopy(H5T_NATIVE_FLOAT));
      H5OK(H5Tcommit2(g, name.c_str(), t, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      H5Tclose(t);
    } else {  // soft link to the root group, skipped
      H5OK(H5Lcreate_soft("/", g, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
    }
    out.links.push_back(std::move(e));
  }
}

Generated generate(FuzzedDataProvider& fdp, const std::string& path) {
  Generated out;
  const hid_t fapl = H5OK(H5Pcreate(H5P_FILE_ACCESS));
  if (fdp.ConsumeBool()) H5OK(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  const hid_t file = H5OK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
  H5Pclose(fapl);

  // /checkpoints: absent, a dataset, a dangling link, or a group of step_N children.
  const int ckpt_kind = fdp.ConsumeIntegralInRange<int>(0, 7);
  std::vector<std::pair<long long, std::string>> steps;
  bool steps_ok = true;
  std::string read_group;
  int read_order = 0;
  if (ckpt_kind == 0) {
    // no /checkpoints
  } else if (ckpt_kind == 1) {
    const hid_t s = H5OK(H5Screate(H5S_SCALAR));
    H5Dclose(H5OK(H5Dcreate2(file, "checkpoints", H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT)));
    H5Sclose(s);
    steps_ok = false;
  } else if (ckpt_kind == 2) {
    H5OK(H5Lcreate_soft("/missing", file, "checkpoints", H5P_DEFAULT, H5P_DEFAULT));
    steps_ok = false;
  } else {
    const hid_t cp = H5OK(H5Gcreate2(file, "checkpoints", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    std::set<std::string> used;
    const int n = fdp.ConsumeIntegralInRange<int>(0, 12);
    for (int i = 0; i < n; ++i) {
      std::string name;
      const int name_kind = fdp.ConsumeIntegralInRange<int>(0, 3);
      if (name_kind == 0) {
        name = link_name(fdp, static_cast<std::size_t>(i), used);
      } else {
        std::string digits = std::to_string(fdp.ConsumeIntegral<std::uint64_t>());
        const int pad = fdp.ConsumeIntegralInRange<int>(0, 8);
        digits.insert(0, static_cast<std::size_t>(pad), '0');
        const std::size_t keep = fdp.ConsumeIntegralInRange<std::size_t>(0, digits.size());
        name = "step_" + digits.substr(0, keep);
        if (name_kind == 3) name += fdp.ConsumeBool() ? "x" : " ";
        if (!used.insert(name).second) continue;
      }
      const int kind = fdp.ConsumeIntegralInRange<int>(0, 4);  // group x2, dataset, soft, dangling
      if (kind <= 1) {
        const int order = fdp.ConsumeIntegralInRange<int>(0, 2);
        const hid_t gcpl = group_cpl(order);
        const hid_t g = H5OK(H5Gcreate2(cp, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT));
        H5Pclose(gcpl);
        if (read_group.empty() && fdp.ConsumeBool()) {
          read_group = "/checkpoints/" + name;
          read_order = order;
          fill_group(fdp, g, read_group, out);
        }
        H5Gclose(g);
      } else if (kind == 2) {
        const hid_t s = H5OK(H5Screate(H5S_SCALAR));
        H5Dclose(H5OK(H5Dcreate2(cp, name.c_str(), H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT)));
        H5Sclose(s);
      } else if (kind == 3) {
        H5OK(H5Lcreate_soft("/checkpoints", cp, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
      } else {
        H5OK(H5Lcreate_soft("/checkpoints/nothing", cp, name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
      }
      const std::string digits = name.size() > 5 ? name.substr(5) : "";
      const bool step_name = name.compare(0, 5, "step_") == 0 && !digits.empty() &&
                             digits.size() <= 18 &&
                             std::all_of(digits.begin(), digits.end(),
                                         [](char c) { return c >= '0' && c <= '9'; });
      if (!step_name) continue;
      if (kind == 4) steps_ok = false;  // a dangling step_N link cannot be told apart
      if (kind <= 1 || kind == 3) steps.emplace_back(std::stoll(digits), "/checkpoints/" + name);
    }
    H5Gclose(cp);
  }
  if (steps_ok) {
    std::sort(steps.begin(), steps.end());
    std::vector<std::string> names;
    for (auto& s : steps) names.push_back(s.second);
    out.checkpoints = names;
  }

  // The group read back: a checkpoint group made above, else "/model" or the root.
  if (read_group.empty()) {
    const int where = fdp.ConsumeIntegralInRange<int>(0, 3);
    if (where == 0) {
      read_group = "/";
      read_order = 0;
      // The root group of a file made with default properties does not track creation order.
      fill_group(fdp, file, "/", out);
    } else {
      read_order = fdp.ConsumeIntegralInRange<int>(0, 2);
      const hid_t gcpl = group_cpl(read_order);
      const hid_t g = H5OK(H5Gcreate2(file, "model", H5P_DEFAULT, gcpl, H5P_DEFAULT));
      H5Pclose(gcpl);
      read_group = "/model";
      fill_group(fdp, g, read_group, out);
      H5Gclose(g);
    }
  }
  out.group = read_group;
  out.group_ok = true;
  out.crt_order = read_order != 0;
  if (read_group == "/") {
    // The root also holds /checkpoints (and /model is never made then): a group or a dataset.
    Expected c;
    c.name = "checkpoints";
    if (ckpt_kind == 1) {
      c.dataset = true;
      c.dtype = torch::kInt;
      c.bytes.assign(4, 0);
    } else if (ckpt_kind == 2) {
      c.bad = true;
    }
    if (ckpt_kind != 0) out.links.insert(out.links.begin(), c);
  }
  H5Fclose(file);
  return out;
}

// ---------------------------------------------------------------------------------------------

void check_io_error(const bnl::io::IoError& e, const std::string& path) {
  const std::string msg = e.what();
  if (msg.compare(0, path.size() + 2, path + ": ") != 0 ||
      (strict("oneline") && msg.find('\n') != std::string::npos)) {
    std::fprintf(stderr, "IoError message: [%s]\n", msg.c_str());
  }
  FUZZ_CHECK(msg.compare(0, path.size() + 2, path + ": ") == 0);
  if (strict("oneline")) FUZZ_CHECK(msg.find('\n') == std::string::npos);
}

void check_read(const Generated& g, const std::string& path, const std::string& group_arg) {
  // The order the loader must use.
  std::vector<const Expected*> order;
  for (const Expected& e : g.links) order.push_back(&e);
  if (!g.crt_order) {
    std::stable_sort(order.begin(), order.end(),
                     [](const Expected* a, const Expected* b) { return a->name < b->name; });
  }
  bool any_bad = false;
  for (const Expected* e : order) any_bad = any_bad || e->bad;

  std::vector<std::pair<std::string, torch::Tensor>> got;
  try {
    got = bnl::io::read_tensor_group(path, group_arg);
  } catch (const bnl::io::IoError& e) {
    ++stats.reads_refused;
    check_io_error(e, path);
    FUZZ_CHECK(any_bad || !g.group_ok);
    return;
  }
  FUZZ_CHECK(!any_bad && g.group_ok);
  ++stats.reads_ok;
  stats.crt_order_groups += g.crt_order ? 1 : 0;
  stats.max_links = std::max<long>(stats.max_links, static_cast<long>(g.links.size()));
  std::size_t k = 0;
  for (const Expected* e : order) {
    if (!e->dataset) continue;
    FUZZ_CHECK(k < got.size());
    const auto& [name, t] = got[k++];
    FUZZ_CHECK(name == e->name);
    FUZZ_CHECK(e->dtype.has_value() && t.scalar_type() == *e->dtype);
    FUZZ_CHECK(t.sizes().vec() == e->shape);
    FUZZ_CHECK(t.is_contiguous() && t.device().is_cpu());
    const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    FUZZ_CHECK(nbytes == e->bytes.size());
    ++stats.tensors;
    stats.tensor_bytes += static_cast<long>(nbytes);
    if (nbytes == 0) continue;
    const auto* p = static_cast<const std::uint8_t*>(t.data_ptr());
    if (t.scalar_type() == torch::kBool) {
      // A torch bool must hold 0 or 1; stored bytes other than that must not pass through.
      for (std::size_t i = 0; i < nbytes; ++i) {
        if (p[i] > 1) {
          std::fprintf(stderr, "dataset '%s': bool tensor element %zu holds byte %u\n",
                       e->name.c_str(), i, static_cast<unsigned>(p[i]));
        }
        FUZZ_CHECK(p[i] <= 1);
        if (!e->bool_raw || e->bytes[i] <= 1) FUZZ_CHECK(p[i] == e->bytes[i]);
      }
    } else {
      FUZZ_CHECK(std::memcmp(p, e->bytes.data(), nbytes) == 0);
    }
  }
  FUZZ_CHECK(k == got.size());
}


/// Open HDF5 handles must not pile up. Files, datasets, groups and attributes must all be
/// closed; datatype IDs are counted with the transient ones, of which the C++ API keeps its
/// PredType constants open, so for them the count must only not grow from the first call on.
void open_handles_check(const char* when) {
  const hid_t all = static_cast<hid_t>(H5F_OBJ_ALL);
  const ssize_t objects = H5Fget_obj_count(all, H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP |
                                                    H5F_OBJ_ATTR);
  const ssize_t types = H5Fget_obj_count(all, H5F_OBJ_DATATYPE);
  static ssize_t types_baseline = -1;
  if (types_baseline < 0) types_baseline = types;
  if (objects != 0 || types > types_baseline) {
    std::fprintf(stderr,
                 "open HDF5 handles %s: files %zd, datasets %zd, groups %zd, attributes %zd, "
                 "datatypes %zd (at first %zd)\n",
                 when, H5Fget_obj_count(all, H5F_OBJ_FILE), H5Fget_obj_count(all, H5F_OBJ_DATASET),
                 H5Fget_obj_count(all, H5F_OBJ_GROUP), H5Fget_obj_count(all, H5F_OBJ_ATTR), types,
                 types_baseline);
  }
  FUZZ_CHECK(objects == 0 && types <= types_baseline);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // the generator's HDF5 errors abort loudly
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string path = bnl::fuzz::scratch_file("checkpoint.h5");
  const Generated g = generate(fdp, path);
  ++stats.files;
  open_handles_check("after the generator");

  // The group as a caller may spell it: absolute, relative, with a trailing slash; or a
  // path that does not exist.
  std::string arg = g.group;
  Generated probe = g;
  switch (fdp.ConsumeIntegralInRange<int>(0, 4)) {
    case 1: arg = arg == "/" ? "" : arg.substr(1); break;
    case 2: arg += "/"; break;
    case 3:
      arg += std::string("/") + kMissingChild;
      probe.group_ok = false;
      break;
    default: break;
  }
  check_read(probe, path, arg);

  try {
    const std::vector<std::string> got = bnl::io::list_checkpoints(path);
    ++stats.lists_ok;
    FUZZ_CHECK(g.checkpoints.has_value());
    FUZZ_CHECK(got == *g.checkpoints);
  } catch (const bnl::io::IoError& e) {
    ++stats.lists_refused;
    check_io_error(e, path);
    FUZZ_CHECK(!g.checkpoints.has_value());
  }
  // Neither the generator nor the loader leaves an HDF5 handle open, on success or error.
  open_handles_check("after the loader");
  return 0;
}
